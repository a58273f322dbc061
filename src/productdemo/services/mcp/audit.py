"""The audit log: who ran which command on which host when, and the result."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.storage.database import to_completion
from productdemo.storage.models import McpAudit


class AuditLog:
    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db

    async def record(
        self,
        username: str,
        action: str,
        host: str,
        result: str,
        server_name: str | None = None,
        command: str | None = None,
    ) -> None:
        # Install tasks record their end and are cancelled at stop: never mid-insert.
        await to_completion(self._insert(username, action, host, result, server_name, command))

    async def _insert(
        self,
        username: str,
        action: str,
        host: str,
        result: str,
        server_name: str | None,
        command: str | None,
    ) -> None:
        async with self._db() as db:
            db.add(
                McpAudit(
                    at=datetime.now(UTC),
                    username=username,
                    action=action,
                    host=host,
                    server_name=server_name,
                    command=command,
                    result=result[:500],
                )
            )
            await db.commit()

    async def recent(self, limit: int = 200) -> list[McpAudit]:
        async with self._db() as db:
            rows = await db.scalars(select(McpAudit).order_by(McpAudit.id.desc()).limit(limit))
            return list(rows)


def host_label(username: str, hostname: str, port: int) -> str:
    return f"{username}@{hostname}:{port}"
