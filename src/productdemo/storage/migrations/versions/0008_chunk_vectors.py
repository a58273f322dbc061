"""chunk embeddings for semantic search, tagged with the model that made them

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-06 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "chunk_vectors",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("chunk_id", big_id, nullable=False),
        sa.Column("owner_id", big_id, nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["chunk_id"], ["chunks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chunk_vectors_owner_model", "chunk_vectors", ["owner_id", "model_id", "id"])
    op.create_index("ix_chunk_vectors_chunk_id", "chunk_vectors", ["chunk_id"])


def downgrade() -> None:
    op.drop_table("chunk_vectors")
