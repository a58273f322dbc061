"""Semantic retrieval: sentence embeddings of chunks, vector search per user, hybrid ranking.

- ``embedder.py``: the models (all-MiniLM-L6-v2 int8 ONNX, or a deterministic hashing one).
- ``pool.py``: embedding in worker processes, off the event loop.
- ``stage.py``: the ``embedding`` stage of document processing and storing its vectors.
- ``store.py``: where vectors live, chosen at start-up: ``pgvector.py`` (PostgreSQL with
  pgvector, HNSW) or ``vectors.py`` (float32 bytes, exact nearest neighbours in numpy).
- ``fusion.py``: fusing the lexical and the vector lists into one ranking.
- ``reembed.py``: re-queues documents whose vectors come from another model.
"""
