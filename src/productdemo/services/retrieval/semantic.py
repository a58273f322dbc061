"""Semantic search: embed the query in the server process, then the nearest chunks by cosine.

A query is a few words: embedding it takes a few milliseconds in a thread (onnxruntime
releases the GIL), where sending it to the document workers could queue it behind a
batch of chunks. The model is loaded on the first query, not at start-up.
"""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy.ext.asyncio import AsyncSession

from productdemo.services.retrieval.embedder import Embedder, ModelName, Vectors, load_embedder
from productdemo.services.retrieval.store import VectorStore


class SemanticSearch:
    def __init__(self, model: ModelName, vectors: VectorStore, threads: int = 1) -> None:
        self._model = model
        self._threads = threads
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()
        self.vectors = vectors

    def _embed(self, text: str) -> Vectors:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self._model, self._threads)
            vector: Vectors = self._embedder.embed([text])[0]
            return vector

    async def embed_query(self, text: str) -> Vectors:
        """``text`` as a unit vector of the configured model."""
        return await asyncio.to_thread(self._embed, text)

    async def nearest(
        self, db: AsyncSession, owner_id: int, query: str, limit: int
    ) -> list[tuple[int, float]]:
        """The owner's ``limit`` chunks nearest in meaning to ``query``: (chunk id, cosine)."""
        return await self.vectors.nearest(db, owner_id, await self.embed_query(query), limit)
