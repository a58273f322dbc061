"""Claiming queued installs with a lease, keeping it, and ending installs whose instance died.

Every ``poll_interval`` seconds (or at once when this instance queues one) the worker:

1. ends as ``error`` ("instance lost") every running install whose lease has run out: its
   instance stopped renewing, so it died or lost the database; the command is not re-run,
   because an install command is not known to be safe to repeat;
2. claims queued installs (one ``UPDATE … RETURNING``; ``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL) and runs each in a task beside a lease keeper.

The keeper renews the lease every third of it and picks up cancel requests made on other
instances. When a renewal finds the claim gone, or renewals fail until the lease would have
run out, it cancels the work: another instance may already have ended the install. The
final state is written only after the keeper has stopped, and only while the claim is ours.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.config import McpSettings
from productdemo.realtime.publisher import Publisher
from productdemo.services.mcp.audit import AuditLog
from productdemo.services.mcp.events import ACTIVE_STATES
from productdemo.services.mcp.logstore import ClaimLost
from productdemo.services.mcp.remote import Credentials, RemoteError
from productdemo.services.mcp.runner import InstallRunner, Outcome, publish_state
from productdemo.services.mcp.vault import VaultError
from productdemo.storage.database import to_completion
from productdemo.storage.models import McpHost, McpInstall, User

logger = logging.getLogger(__name__)

_CLAIM = """
UPDATE mcp_installs SET claimed_by = :me, lease_until = :until, state = 'connecting',
  message = 'Claimed by an instance', updated_at = :now
WHERE id = (
  SELECT id FROM mcp_installs WHERE state = 'queued' ORDER BY created_at LIMIT 1{lock}
)
RETURNING id
"""
_RUNNING = ("connecting", "running", "verifying")
LOST = "instance lost: the instance running this install stopped before it ended"


class InstallWorker:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        events: Publisher,
        audit: AuditLog,
        credentials: Callable[[McpHost], Credentials],
        settings: McpSettings,
        instance_id: str,
        dialect: str,
    ) -> None:
        self._db = db
        self._events = events
        self._audit = audit
        self._credentials = credentials
        self._settings = settings
        self.instance_id = instance_id
        self._dialect = dialect
        lock = " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
        self._claim_sql = text(_CLAIM.format(lock=lock))
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._running: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = {}

    async def start(self) -> None:
        """End the installs this instance ran before a restart, then start looking for work."""
        lost = update(McpInstall).where(McpInstall.state.in_(_RUNNING))
        if self._dialect != "sqlite":
            # Only one instance can use an SQLite file; on a shared database, only our own.
            lost = lost.where(McpInstall.claimed_by == self.instance_id)
        await self._end_lost(lost)
        self._loop_task = asyncio.get_running_loop().create_task(self._loop(), name="mcp-installs")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        tasks = [task for task, _ in self._running.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def submit(self) -> None:
        self._wake.set()

    def cancel_local(self, install_id: str) -> bool:
        """Ask a running install of this instance to stop; False if it does not run here."""
        entry = self._running.get(install_id)
        if entry is None:
            return False
        entry[1].set()
        return True

    async def _loop(self) -> None:
        while True:
            try:
                now = datetime.now(UTC)
                await self._end_lost(
                    update(McpInstall).where(McpInstall.state.in_(_RUNNING), McpInstall.lease_until < now)
                )
                while len(self._running) < self._settings.max_concurrent and await self._claim_one():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("could not look for MCP installs; retrying")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval)
            except TimeoutError:
                pass

    async def _end_lost(self, statement: object) -> None:
        async def end() -> Sequence[Any]:
            async with self._db() as db:
                rows = await db.execute(
                    statement.values(  # type: ignore[attr-defined]
                        state="error",
                        message=LOST,
                        claimed_by=None,
                        lease_until=None,
                        updated_at=datetime.now(UTC),
                    ).returning(McpInstall.id, McpInstall.server_name, McpInstall.command, McpInstall.host_id)
                )
                lost: Sequence[Any] = rows.all()
                await db.commit()
            return lost

        # The loop is cancelled at stop: an UPDATE … RETURNING cut off mid-statement would
        # keep SQLite's write lock.
        lost = await to_completion(end())
        for install_id, server_name, command, host_id in lost:
            logger.warning("install %s: %s", install_id, LOST)
            await publish_state(self._events, install_id, "error", LOST, None)
            await self._audit.record(
                "system",
                "install.end",
                await self._host_label(host_id),
                f"error: {LOST}",
                server_name,
                command,
            )

    async def _claim_one(self) -> bool:
        now = datetime.now(UTC)
        params = {
            "me": self.instance_id,
            "until": now + timedelta(seconds=self._settings.lease_seconds),
            "now": now,
        }

        async def claim() -> tuple[Any, ...] | None:
            async with self._db() as db:
                row = (await db.execute(self._claim_sql, params)).first()
                await db.commit()
            return None if row is None else tuple(row)

        row = await to_completion(claim())  # the loop is cancelled at stop
        if row is None:
            return False
        install_id = str(row[0])
        cancel = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self._run(install_id, cancel), name=f"mcp-{install_id}")
        self._running[install_id] = (task, cancel)
        task.add_done_callback(lambda _t: self._running.pop(install_id, None))
        return True

    async def _run(self, install_id: str, cancel: asyncio.Event) -> None:
        async with self._db() as db:
            install = await db.get(McpInstall, install_id)
            host = await db.get(McpHost, install.host_id) if install else None
        if install is None or host is None:
            return
        await publish_state(self._events, install_id, "connecting", "Claimed by an instance", None)
        work: asyncio.Task[Outcome] | None = None
        outcome: Outcome | None = None
        try:
            creds = self._credentials(host)
        except (RemoteError, VaultError) as exc:
            outcome = Outcome("error", str(exc))
        if outcome is None:
            runner = InstallRunner(
                self._db, self._events, self._settings, self.instance_id, install, creds, cancel
            )
            work = asyncio.get_running_loop().create_task(runner.execute())
            keeper = asyncio.get_running_loop().create_task(self._keep_lease(install_id, cancel, work))
            try:
                outcome = await work
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # this instance is stopping; another one ends the install
                logger.warning("install %s: lease lost; stopped without writing its end", install_id)
            except ClaimLost:
                logger.warning("install %s: claim taken over; stopped without writing its end", install_id)
            except Exception as exc:
                logger.exception("install %s failed", install_id)
                outcome = Outcome("error", f"internal error ({type(exc).__name__})")
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
        if outcome is not None:
            await self._finish(install, f"{host.username}@{host.hostname}:{host.port}", outcome)

    async def _keep_lease(self, install_id: str, cancel: asyncio.Event, work: asyncio.Task[Outcome]) -> None:
        lease = self._settings.lease_seconds
        loop = asyncio.get_running_loop()
        held_until = loop.time() + lease
        while True:
            await asyncio.sleep(min(lease / 3, self._settings.poll_interval))
            try:
                # This keeper is cancelled when the work ends: never mid-transaction.
                cancel_requested = await to_completion(self._renew(install_id, lease))
            except Exception:
                logger.exception("install %s: lease renewal failed", install_id)
                if loop.time() < held_until:
                    continue
                cancel_requested = None
            if cancel_requested is None:
                logger.warning("install %s: lease lost; stopping the work", install_id)
                work.cancel()
                return
            held_until = loop.time() + lease
            if cancel_requested:
                cancel.set()

    async def _renew(self, install_id: str, lease: float) -> bool | None:
        """Extend the claim; whether a cancel was asked for, or None if the claim is gone."""
        async with self._db() as db:
            row = (
                await db.execute(
                    update(McpInstall)
                    .where(
                        McpInstall.id == install_id,
                        McpInstall.claimed_by == self.instance_id,
                        McpInstall.state.in_(ACTIVE_STATES),
                    )
                    .values(lease_until=datetime.now(UTC) + timedelta(seconds=lease))
                    .returning(McpInstall.cancel_requested)
                )
            ).first()
            await db.commit()
        return None if row is None else bool(row[0])

    async def _finish(self, install: McpInstall, host: str, outcome: Outcome) -> None:
        tools = None
        if outcome.tools is not None:
            tools = json.dumps([{"name": t.name, "description": t.description} for t in outcome.tools])

        async def save() -> bool:
            async with self._db() as db:
                result = await db.execute(
                    update(McpInstall)
                    .where(McpInstall.id == install.id, McpInstall.claimed_by == self.instance_id)
                    .values(
                        state=outcome.state,
                        message=outcome.message[:500],
                        exit_status=outcome.exit_status,
                        **({"tools": tools} if tools is not None else {}),
                        claimed_by=None,
                        lease_until=None,
                        updated_at=datetime.now(UTC),
                    )
                )
                await db.commit()
            return bool(getattr(result, "rowcount", 1))

        # The install's task is cancelled at stop: the end is written whole or not at all.
        if not await to_completion(save()):
            logger.warning("install %s: ended elsewhere before this instance could write its end", install.id)
            return
        state = outcome.state
        assert state != "exited", "the runner turns an exit into an outcome"
        await publish_state(self._events, install.id, state, outcome.message, outcome.exit_status)
        action = "hostkey.changed" if outcome.message.startswith("host key changed") else "install.end"
        await self._audit.record(
            await self._username(install.requested_by),
            action,
            host,
            f"{outcome.state}: {outcome.message}",
            install.server_name,
            install.command,
        )

    async def _username(self, user_id: int | None) -> str:
        if user_id is None:
            return "system"
        async with self._db() as db:
            name = await db.scalar(select(User.username).where(User.id == user_id))
        return name or f"user {user_id}"

    async def _host_label(self, host_id: str) -> str:
        async with self._db() as db:
            host = await db.get(McpHost, host_id)
        return f"{host.username}@{host.hostname}:{host.port}" if host else host_id
