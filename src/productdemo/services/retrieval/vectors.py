"""Exact nearest neighbours over one user's vectors of one model, scored with numpy.

The portable store: SQLite, and PostgreSQL without pgvector (``pgvector.py`` is the other
one, chosen at start-up by ``store.py``). Vectors are float32 bytes in ``chunk_vectors``.
A user's matrix is cached in memory and reloaded when their vectors change, which a cheap
``count(*), max(id)`` over the ``(owner_id, model_id, id)`` index tells (every change deletes
rows or adds rows with higher ids), so instances sharing a database stay consistent. Exact
search is a matrix-vector product: about 10 ms per 100,000 chunks (docs/performance.md).
Only vectors of the configured model are read, so two models never meet in one ranking.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from productdemo.services.retrieval.embedder import Vectors
from productdemo.storage.models import ChunkVector


@dataclass(frozen=True)
class _Matrix:
    stamp: tuple[int, int]
    chunk_ids: npt.NDArray[np.int64]
    vectors: Vectors


class NumpyVectors:
    """Cached per-user matrices for model ``model_id``, least recently used dropped first.

    At most ``max_vectors`` are kept in memory in all (the default, 300,000 × 384 float32, is
    about 460 MB); the matrix of the user being searched is always kept.
    """

    kind = "numpy"

    def __init__(self, model_id: str, dim: int, max_vectors: int = 300_000) -> None:
        self.model_id = model_id
        self.dim = dim
        self._max_vectors = max_vectors
        self._cache: OrderedDict[int, _Matrix] = OrderedDict()

    async def write(self, db: AsyncSession, owner_id: int, rows: list[tuple[int, Vectors]]) -> None:
        """Store (chunk id, vector) pairs of the owner, made by this store's model."""
        values = [
            {
                "chunk_id": c,
                "owner_id": owner_id,
                "model_id": self.model_id,
                "dim": self.dim,
                "vector": v.tobytes(),
            }
            for c, v in rows
        ]
        for start in range(0, len(values), 500):
            await db.execute(insert(ChunkVector), values[start : start + 500])

    async def nearest(
        self, db: AsyncSession, owner_id: int, query: Vectors, limit: int
    ) -> list[tuple[int, float]]:
        """The owner's ``limit`` chunks closest to ``query`` (a unit vector): (chunk id, cosine)."""
        matrix = await self._matrix(db, owner_id)
        if not len(matrix.chunk_ids):
            return []
        scores = await asyncio.to_thread(np.dot, matrix.vectors, query)
        count = min(limit, len(scores))
        top = np.argpartition(-scores, count - 1)[:count]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(matrix.chunk_ids[i]), float(scores[i])) for i in top]

    async def _matrix(self, db: AsyncSession, owner_id: int) -> _Matrix:
        mine = (ChunkVector.owner_id == owner_id) & (ChunkVector.model_id == self.model_id)
        count, last = (await db.execute(select(func.count(), func.max(ChunkVector.id)).where(mine))).one()
        stamp = (int(count), int(last or 0))
        cached = self._cache.get(owner_id)
        if cached is not None and cached.stamp == stamp:
            self._cache.move_to_end(owner_id)
            return cached
        rows = (
            await db.execute(
                select(ChunkVector.chunk_id, ChunkVector.vector).where(
                    mine & (ChunkVector.dim == self.dim) & ChunkVector.vector.is_not(None)
                )
            )
        ).all()
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        blob = b"".join(r[1] or b"" for r in rows)
        vectors = np.frombuffer(blob, np.float32).reshape(len(rows), self.dim)
        matrix = _Matrix(stamp, ids, vectors)
        self._cache[owner_id] = matrix
        self._cache.move_to_end(owner_id)
        while (
            len(self._cache) > 1 and sum(len(m.chunk_ids) for m in self._cache.values()) > self._max_vectors
        ):
            self._cache.popitem(last=False)
        return matrix
