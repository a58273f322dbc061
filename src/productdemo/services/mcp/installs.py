"""What the routes call: the catalogue, starting, cancelling and reading installs.

The command comes from the catalogue (operator configuration), chosen by its id; a request
never carries command text.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.config import McpCatalogueEntry, McpSettings
from productdemo.errors import Conflict, NotFound
from productdemo.realtime.protocol import CamelModel
from productdemo.realtime.publisher import Publisher
from productdemo.services.mcp.audit import AuditLog, host_label
from productdemo.services.mcp.events import ACTIVE_STATES
from productdemo.services.mcp.hosts import HostService
from productdemo.services.mcp.logstore import LogChunk, read_log
from productdemo.services.mcp.runner import publish_state
from productdemo.services.mcp.worker import InstallWorker
from productdemo.storage.models import McpInstall

#: Chunks per ``GET …/log`` answer: frames are at most ~16 KiB, so about a MiB.
LOG_PAGE = 64


class ToolPublic(CamelModel):
    name: str
    description: str


class InstallPublic(CamelModel):
    id: str
    host_id: str
    server_id: str
    server_name: str
    command: str
    verify_only: bool
    state: str
    exit_status: int | None
    message: str
    tools: list[ToolPublic] | None
    log_size: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: McpInstall) -> InstallPublic:
        tools = [ToolPublic(**t) for t in json.loads(row.tools)] if row.tools else None
        return cls(
            id=row.id,
            host_id=row.host_id,
            server_id=row.server_id,
            server_name=row.server_name,
            command=row.command,
            verify_only=row.verify_only,
            state=row.state,
            exit_status=row.exit_status,
            message=row.message,
            tools=tools,
            log_size=row.log_size,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class InstallService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        events: Publisher,
        hosts: HostService,
        audit: AuditLog,
        worker: InstallWorker,
        settings: McpSettings,
    ) -> None:
        self._db = db
        self._events = events
        self._hosts = hosts
        self._audit = audit
        self._worker = worker
        self._settings = settings

    @property
    def catalogue(self) -> tuple[McpCatalogueEntry, ...]:
        return self._settings.catalogue

    def server(self, server_id: str) -> McpCatalogueEntry:
        for entry in self._settings.catalogue:
            if entry.id == server_id:
                return entry
        raise NotFound(f"no MCP server {server_id!r} in the catalogue")

    async def start(
        self, actor: str, actor_id: int, host_id: str, server_id: str, verify_only: bool = False
    ) -> McpInstall:
        """Queue an install (or a verify-only run) of catalogue entry ``server_id`` on a host.

        Raises:
            NotFound: no such host or catalogue entry.
            Conflict: the host key is not confirmed, the pair is busy, or the global cap is reached.
        """
        entry = self.server(server_id)
        host = await self._hosts.get(host_id)
        if host.host_key is None:
            raise Conflict("confirm the host key first (scan, then trust)")
        now = datetime.now(UTC)
        install = McpInstall(
            id="i_" + secrets.token_hex(8),
            host_id=host_id,
            server_id=entry.id,
            server_name=entry.name,
            command=entry.install_command,
            launch_command=entry.launch_command,
            requested_by=actor_id,
            verify_only=verify_only,
            state="queued",
            message="Queued",
            cancel_requested=False,
            log_size=0,
            created_at=now,
            updated_at=now,
        )
        async with self._db() as db:
            active = await db.scalar(select(func.count()).where(McpInstall.state.in_(ACTIVE_STATES)))
            if (active or 0) >= self._settings.max_concurrent:
                raise Conflict(
                    f"{active} installs are running; at most {self._settings.max_concurrent} at a time"
                )
            db.add(install)
            try:
                await db.commit()
            except IntegrityError:
                raise Conflict(f"{entry.name} is already being installed on {host.name}") from None
        label = host_label(host.username, host.hostname, host.port)
        action = "install.verify" if verify_only else "install.start"
        await self._audit.record(actor, action, label, "queued", entry.name, entry.install_command)
        await publish_state(self._events, install.id, "queued", "Queued", None)
        self._worker.submit()
        return install

    async def verify_again(self, actor: str, actor_id: int, install_id: str) -> McpInstall:
        done = await self.get(install_id)
        return await self.start(actor, actor_id, done.host_id, done.server_id, verify_only=True)

    async def get(self, install_id: str) -> McpInstall:
        async with self._db() as db:
            row = await db.get(McpInstall, install_id)
        if row is None:
            raise NotFound(f"no install {install_id}")
        return row

    async def recent(self, limit: int = 100) -> list[McpInstall]:
        async with self._db() as db:
            rows = await db.scalars(select(McpInstall).order_by(McpInstall.created_at.desc()).limit(limit))
            return list(rows)

    async def cancel(self, actor: str, install_id: str) -> McpInstall:
        """Stop an install: a queued one ends now; a running one is stopped by its instance.

        Raises:
            NotFound: no such install.
            Conflict: it has already ended.
        """
        install = await self.get(install_id)
        now = datetime.now(UTC)
        async with self._db() as db:
            dequeued = await db.execute(
                update(McpInstall)
                .where(McpInstall.id == install_id, McpInstall.state == "queued")
                .values(state="cancelled", message="Cancelled before it started", updated_at=now)
            )
            if not getattr(dequeued, "rowcount", 0):
                requested = await db.execute(
                    update(McpInstall)
                    .where(McpInstall.id == install_id, McpInstall.state.in_(ACTIVE_STATES))
                    .values(cancel_requested=True)
                )
                if not getattr(requested, "rowcount", 0):
                    raise Conflict(f"install {install_id} has already ended ({install.state})")
            await db.commit()
        host = await self._hosts.get(install.host_id)
        label = host_label(host.username, host.hostname, host.port)
        await self._audit.record(
            actor, "install.cancel", label, "requested", install.server_name, install.command
        )
        if getattr(dequeued, "rowcount", 0):
            await publish_state(self._events, install_id, "cancelled", "Cancelled before it started", None)
        else:
            # Here at once; on another instance, its lease keeper sees the flag within a poll.
            self._worker.cancel_local(install_id)
        return await self.get(install_id)

    async def log(
        self, install_id: str, offset: int, limit: int | None = LOG_PAGE
    ) -> tuple[McpInstall, list[LogChunk]]:
        """The install and its stored output from byte ``offset``: a page of chunks, or all."""
        install = await self.get(install_id)
        return install, await read_log(self._db, install_id, offset, limit)
