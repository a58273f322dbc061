"""Where vectors live: pgvector when the database has it, float32 bytes scored with numpy if not.

The choice is made once, at start-up, from the database itself (``start``): PostgreSQL with
the ``embedding`` column that migration 0011 adds where pgvector can be created, the portable
store everywhere else (SQLite, Debian's PostgreSQL 15). Both keep the model id and dimension
with every vector and only ever compare vectors of the configured model.
"""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.services.retrieval.embedder import Vectors
from productdemo.services.retrieval.pgvector import PgVectors, pgvector_version
from productdemo.services.retrieval.vectors import NumpyVectors

logger = logging.getLogger(__name__)


class VectorStore(Protocol):
    @property
    def kind(self) -> str:
        """``numpy`` or ``pgvector``."""
        ...

    async def write(self, db: AsyncSession, owner_id: int, rows: list[tuple[int, Vectors]]) -> None:
        """Store (chunk id, vector) pairs of the owner, in ``db``'s transaction."""
        ...

    async def nearest(
        self, db: AsyncSession, owner_id: int, query: Vectors, limit: int
    ) -> list[tuple[int, float]]:
        """The owner's ``limit`` chunks closest to ``query`` (a unit vector): (chunk id, cosine)."""
        ...


class ChosenStore:
    """The store for this database; the portable one until :meth:`start` has looked."""

    def __init__(self, model_id: str, dim: int) -> None:
        self.model_id = model_id
        self.dim = dim
        self.store: VectorStore = NumpyVectors(model_id, dim)

    @property
    def kind(self) -> str:
        return self.store.kind

    async def start(self, db: async_sessionmaker[AsyncSession]) -> None:
        """Look at the database and pick pgvector if it stores vectors with it."""
        async with db() as session:
            version = await pgvector_version(session)
        if version is not None:
            self.store = PgVectors(self.model_id, self.dim, version)
        logger.info(
            "vector search: %s",
            f"pgvector {'.'.join(map(str, version))}, HNSW cosine"
            if version
            else "float32 bytes, exact in numpy",
        )

    async def write(self, db: AsyncSession, owner_id: int, rows: list[tuple[int, Vectors]]) -> None:
        await self.store.write(db, owner_id, rows)

    async def nearest(
        self, db: AsyncSession, owner_id: int, query: Vectors, limit: int
    ) -> list[tuple[int, float]]:
        return await self.store.nearest(db, owner_id, query, limit)
