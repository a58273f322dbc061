"""pgvector on PostgreSQL, where the server has it: a vector column and an HNSW cosine index

Only on PostgreSQL servers that offer the ``vector`` extension (``pg_available_extensions``)
and let this role create it; elsewhere (SQLite, Debian's PostgreSQL 15) nothing changes and
vectors stay float32 bytes scored with numpy. The column is ``vector`` without a dimension
so that vectors of every model fit (each row keeps its ``model_id`` and ``dim``); the HNSW
index is on ``embedding::vector(384)`` for the rows of 384 dimensions (all-MiniLM-L6-v2),
the form pgvector documents for indexing one dimension of an untyped column. Vectors stored
before are moved into the column (and back by the downgrade), so nothing is embedded again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

import json
import logging

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

#: The dimension the HNSW index covers: that of the default model.
INDEXED_DIM = 384


def _create_extension(bind: sa.Connection) -> bool:
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first()
    if available is None:
        logger.info("pgvector is not available on this server: vectors stay bytes scored with numpy")
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError as exc:  # no privilege to create it: the portable path still works
        logger.warning("pgvector is available but could not be created (%s): vectors stay bytes", exc.orig)
        return False
    return True


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _create_extension(bind):
        return
    op.execute("ALTER TABLE chunk_vectors ADD COLUMN embedding vector")
    op.alter_column("chunk_vectors", "vector", existing_type=sa.LargeBinary(), nullable=True)
    moved = bind.execute(sa.text("SELECT id, vector FROM chunk_vectors WHERE vector IS NOT NULL")).all()
    for start in range(0, len(moved), 1000):
        bind.execute(
            sa.text("UPDATE chunk_vectors SET embedding = CAST(:e AS vector), vector = NULL WHERE id = :id"),
            [
                {"id": row_id, "e": str(np.frombuffer(blob, np.float32).tolist())}
                for row_id, blob in moved[start : start + 1000]
            ],
        )
    op.execute(
        f"CREATE INDEX ix_chunk_vectors_embedding_{INDEXED_DIM} ON chunk_vectors "
        f"USING hnsw ((embedding::vector({INDEXED_DIM})) vector_cosine_ops) WHERE dim = {INDEXED_DIM}"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    has_column = bind.execute(
        sa.text(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_name = 'chunk_vectors' AND column_name = 'embedding'"
        )
    ).first()
    if has_column is None:
        return
    moved = bind.execute(
        sa.text("SELECT id, embedding::text FROM chunk_vectors WHERE embedding IS NOT NULL")
    ).all()
    for start in range(0, len(moved), 1000):
        bind.execute(
            sa.text("UPDATE chunk_vectors SET vector = :v WHERE id = :id"),
            [
                {"id": row_id, "v": np.array(json.loads(literal), np.float32).tobytes()}
                for row_id, literal in moved[start : start + 1000]
            ],
        )
    op.drop_index(f"ix_chunk_vectors_embedding_{INDEXED_DIM}", "chunk_vectors")
    op.drop_column("chunk_vectors", "embedding")
    op.alter_column("chunk_vectors", "vector", existing_type=sa.LargeBinary(), nullable=False)
