"""The ``embedding`` stage of document processing, and storing its vectors with the chunks.

Between chunking and indexing: the chunks are embedded in worker processes, ``batch_size``
at a time, and each batch advances the document's progress ("Embedded 48 of 120 chunks").
The vectors are stored in the indexing transaction, beside the chunks they belong to, so a
document is ``completed`` only once its vectors are stored.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from productdemo.services.documents.chunking import Chunk
from productdemo.services.documents.progress import ProgressReporter
from productdemo.services.retrieval.embedder import Vectors
from productdemo.services.retrieval.pool import EmbeddingPool
from productdemo.services.retrieval.store import VectorStore
from productdemo.storage.models import Chunk as ChunkRow

#: The stage's share of the document's progress bar: it is the slowest stage by far.
FIRST, LAST = 62, 90


class EmbeddingStage:
    def __init__(self, pool: EmbeddingPool, vectors: VectorStore, dim: int, batch_size: int) -> None:
        self._pool = pool
        self._vectors = vectors
        self.dim = dim
        self._batch = batch_size

    async def embed(self, chunks: list[Chunk], reporter: ProgressReporter) -> Vectors:
        """Every chunk's vector, in order; reports progress after each batch."""
        total = len(chunks)
        await reporter.stage_changed("embedding", FIRST, f"Embedding {total} chunks")
        parts: list[Vectors] = [np.zeros((0, self.dim), np.float32)]
        for start in range(0, total, self._batch):
            texts = [c.text for c in chunks[start : start + self._batch]]
            parts.append(await self._pool.embed(texts, self.dim))
            done = start + len(texts)
            await reporter.advanced(
                FIRST + (LAST - FIRST) * done // total, f"Embedded {done} of {total} chunks"
            )
        return np.concatenate(parts)

    async def store(self, db: AsyncSession, doc_id: str, owner_id: int, vectors: Vectors) -> None:
        """Store ``vectors`` for the document's chunks (already inserted in ``db``), by index."""
        rows = (
            await db.execute(select(ChunkRow.id, ChunkRow.idx).where(ChunkRow.document_id == doc_id))
        ).all()
        if len(rows) != len(vectors):
            raise RuntimeError(f"{len(vectors)} vectors for {len(rows)} chunks of {doc_id}")
        await self._vectors.write(db, owner_id, [(chunk_id, vectors[idx]) for chunk_id, idx in rows])
