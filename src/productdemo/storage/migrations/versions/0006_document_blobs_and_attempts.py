"""documents reference their original (blob) by foreign key, and count processing attempts

The foreign key makes "delete the original only where no document references it" a fact
the database enforces, so a delete can never remove the original of a concurrent upload
with the same content. Documents whose original an earlier race already removed cannot be
downloaded or processed again; they are marked failed with that reason and keep their
chunks, and an empty placeholder original is stored for them so the key holds.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-06 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

_ORPHANS = "SELECT DISTINCT sha256 FROM documents WHERE sha256 NOT IN (SELECT sha256 FROM blobs)"


def upgrade() -> None:
    bind = op.get_bind()
    orphans = [row[0] for row in bind.execute(sa.text(_ORPHANS))]
    for sha256 in orphans:
        bind.execute(
            sa.text("INSERT INTO blobs (sha256, size, data) VALUES (:h, 0, :empty)"),
            {"h": sha256, "empty": b""},
        )
        bind.execute(
            sa.text(
                "UPDATE documents SET status = 'failed', stage = 'failed', message = 'Processing failed',"
                " error = 'the original file was lost; upload it again' WHERE sha256 = :h"
            ),
            {"h": sha256},
        )
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.create_foreign_key("fk_documents_blob", "blobs", ["sha256"], ["sha256"])


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_constraint("fk_documents_blob", type_="foreignkey")
        batch.drop_column("attempts")
