"""MCP hosts, installs, their output and the audit log

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-06 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# States in which an install holds its (host, server) pair: at most one such install per pair.
ACTIVE = "state IN ('queued', 'connecting', 'running', 'verifying')"


def upgrade() -> None:
    op.create_table(
        "mcp_hosts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=False),
        sa.Column("password", sa.LargeBinary(), nullable=True),
        sa.Column("scanned_key", sa.Text(), nullable=True),
        sa.Column("host_key", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "mcp_installs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "host_id", sa.String(32), sa.ForeignKey("mcp_hosts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("server_id", sa.String(16), nullable=False),
        sa.Column("server_name", sa.String(200), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("launch_command", sa.Text(), nullable=False),
        sa.Column("requested_by", BigId, nullable=True),
        sa.Column("verify_only", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("exit_status", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("tools", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("log_size", sa.BigInteger(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mcp_installs_host_id", "mcp_installs", ["host_id"])
    op.create_index("ix_mcp_installs_state", "mcp_installs", ["state"])
    op.create_index(
        "ux_mcp_installs_active_pair",
        "mcp_installs",
        ["host_id", "server_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_table(
        "mcp_log_chunks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "install_id", sa.String(32), sa.ForeignKey("mcp_installs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(8), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_index("ix_mcp_log_chunks_install_id", "mcp_log_chunks", ["install_id", "offset"])
    op.create_table(
        "mcp_audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("host", sa.String(400), nullable=False),
        sa.Column("server_name", sa.String(200), nullable=True),
        sa.Column("command", sa.Text(), nullable=True),
        sa.Column("result", sa.String(500), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mcp_audit")
    op.drop_table("mcp_log_chunks")
    op.drop_table("mcp_installs")
    op.drop_table("mcp_hosts")
