"""Semantic retrieval: sentence embeddings of chunks, vector search per user, hybrid ranking.

- ``embedder.py``: the models (all-MiniLM-L6-v2 int8 ONNX, or a deterministic hashing one).
- ``pool.py``: embedding in worker processes, off the event loop.
- ``stage.py``: the ``embedding`` stage of document processing and storing its vectors.
- ``vectors.py``: exact nearest neighbours over one user's vectors of one model (numpy).
- ``fusion.py``: reciprocal rank fusion of the lexical and the vector lists.
- ``reembed.py``: re-queues documents whose vectors come from another model.
"""
