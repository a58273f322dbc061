"""Nearest neighbours in PostgreSQL with pgvector: an HNSW cosine index, queried per user.

Used where migration 0011 found pgvector (``store.py`` checks the column at start-up). The
``embedding`` column is an untyped ``vector`` and every row keeps its ``model_id`` and
``dim``; queries cast to the model's dimension and filter on both, so two models are never
compared. For 384 dimensions the cast and the ``dim = 384`` filter are exactly the HNSW
index's expression and predicate, which is what lets the planner use it; the dimension is
written into the SQL for that reason (a bound parameter would not match the predicate).

The index holds every user's vectors and the owner is a filter. pgvector ≥ 0.8 then keeps
scanning the graph until ``limit`` rows of this owner are found (``hnsw.iterative_scan``),
where older versions stop after ``ef_search`` candidates and may return fewer. For a user
with few vectors the planner reads them by the ``(owner_id, model_id, id)`` index and sorts
them exactly instead.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from productdemo.services.retrieval.embedder import Vectors

#: Candidates HNSW keeps while searching (recall rises with it): at least twice the limit,
#: at most pgvector's maximum. Measured at 10k random unit vectors (the hardest case), top 10:
#: recall 0.31 at pgvector's default of 40, 0.58 at 100, 0.93 at 400 (6 ms), 1.00 at 1000 (9 ms).
EF_SEARCH, MAX_EF_SEARCH = 400, 1000

_INSERT = text("""
INSERT INTO chunk_vectors (chunk_id, owner_id, model_id, dim, embedding)
VALUES (:chunk_id, :owner_id, :model_id, :dim, CAST(:embedding AS vector))
""")

_VERSION = text("""
SELECT e.extversion FROM pg_extension e
WHERE e.extname = 'vector' AND EXISTS (
  SELECT 1 FROM information_schema.columns c
  WHERE c.table_name = 'chunk_vectors' AND c.column_name = 'embedding' AND c.table_schema = current_schema())
""")


async def pgvector_version(db: AsyncSession) -> tuple[int, ...] | None:
    """pgvector's version if this database stores vectors with it (migration 0011 ran), else None."""
    if db.get_bind().dialect.name != "postgresql":
        return None
    version = (await db.execute(_VERSION)).scalar()
    return tuple(int(part) for part in str(version).split(".")[:3]) if version else None


def literal(vector: Vectors) -> str:
    """pgvector's text form, ``[0.1, -0.2, ...]``: exact, since each float32 widens to a double."""
    return str(vector.tolist())


class PgVectors:
    """pgvector search over the vectors of model ``model_id`` (``dim`` wide)."""

    kind = "pgvector"

    def __init__(self, model_id: str, dim: int, version: tuple[int, ...]) -> None:
        self.model_id = model_id
        self.dim = dim
        self.version = version
        self._iterative = version >= (0, 8)
        distance = f"embedding::vector({int(dim)}) <=> CAST(:query AS vector({int(dim)}))"
        self._nearest = text(f"""
SELECT chunk_id, 1 - ({distance}) AS score FROM chunk_vectors
WHERE owner_id = :owner AND model_id = :model AND dim = {int(dim)}
ORDER BY {distance} LIMIT :limit
""")

    async def write(self, db: AsyncSession, owner_id: int, rows: list[tuple[int, Vectors]]) -> None:
        """Store (chunk id, vector) pairs of the owner, made by this store's model."""
        values = [
            {
                "chunk_id": c,
                "owner_id": owner_id,
                "model_id": self.model_id,
                "dim": self.dim,
                "embedding": literal(v),
            }
            for c, v in rows
        ]
        for start in range(0, len(values), 500):
            await db.execute(_INSERT, values[start : start + 500])

    async def nearest(
        self, db: AsyncSession, owner_id: int, query: Vectors, limit: int
    ) -> list[tuple[int, float]]:
        """The owner's ``limit`` chunks closest to ``query`` (a unit vector): (chunk id, cosine)."""
        # Settings local to this transaction: the pooled connection goes back unchanged.
        await db.execute(
            text("SELECT set_config('hnsw.ef_search', :ef, true)"),
            {"ef": str(min(MAX_EF_SEARCH, max(EF_SEARCH, 2 * limit)))},
        )
        if self._iterative:
            await db.execute(text("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)"))
        params = {"query": literal(query), "owner": owner_id, "model": self.model_id, "limit": limit}
        return [(int(r[0]), float(r[1])) for r in (await db.execute(self._nearest, params)).all()]
