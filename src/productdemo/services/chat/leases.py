"""Claims on answers being written, so every answer ends even when its instance dies.

The instance writing an answer holds ``claimed_by``/``lease_until`` on its message row and
renews it every third of the lease. Rules that keep this correct:

- A renewal that finds the claim gone (the row deleted, or ended by another instance) stops
  the work at once. A renewal that fails (database unreachable) stops it once the lease may
  have run out, because another instance may then have ended the answer as ``interrupted``.
- The keeper is stopped before the final write, and every write after the start is guarded by
  ``claimed_by = <this instance>``, so a stale owner never overwrites the row.
- A message still ``streaming`` whose lease ran out is ended as ``interrupted`` by any
  instance (the sweep), and a restarted instance ends its own former answers at start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Row, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.storage.database import to_completion
from productdemo.storage.models import Message

logger = logging.getLogger(__name__)


class Leases:
    def __init__(
        self, db: async_sessionmaker[AsyncSession], instance_id: str, seconds: float, serialize_writes: bool
    ) -> None:
        self.db = db
        self.instance_id = instance_id
        self.seconds = seconds
        # SQLite has one writer at a time. Left to its busy handler, hundreds of answers
        # starting at once poll for the lock, hold every pooled connection while they wait,
        # and a transaction that read before writing fails on a stale snapshot ("database is
        # locked"); queueing chat writes here avoids all three (PostgreSQL needs none of it).
        self._writes: AbstractAsyncContextManager[object] = (
            asyncio.Lock() if serialize_writes else nullcontext()
        )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session for a transaction that writes (commit it inside)."""
        async with self._writes, self.db() as db:
            yield db

    def until(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.seconds)

    def owned(self, message_id: str) -> ColumnElement[bool]:
        """The WHERE clause of every write an owner makes after the start."""
        return (Message.id == message_id) & (Message.claimed_by == self.instance_id)

    async def keep(
        self,
        message_id: str,
        text: Callable[[], str],
        on_cancel: Callable[[], object],
        on_lost: Callable[[], object],
    ) -> None:
        """Renew the claim until cancelled; call ``on_cancel`` when the owner asked to stop
        (through any instance), ``on_lost`` when the claim is gone or may have run out.

        Each renewal also saves the text so far (one write per third of the lease, never per
        token), so another instance serving a reload shows it, and a crash loses less.
        """
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self.seconds / 3)
            try:
                # This keeper is cancelled when the answer ends: never mid-transaction.
                row = await to_completion(self._renew(message_id, text()))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("answer %s: lease renewal failed", message_id, exc_info=True)
                if time.monotonic() - renewed > self.seconds * 2 / 3:
                    logger.warning("answer %s: lease may have run out; stopping", message_id)
                    on_lost()
                    return
                continue
            renewed = time.monotonic()
            if row is None:
                logger.info("answer %s is gone or was ended elsewhere; stopping", message_id)
                on_lost()
                return
            if row[0]:
                on_cancel()

    async def _renew(self, message_id: str, text: str) -> Row[bool] | None:
        """One statement renews the claim, saves the text and reads whether Stop was asked for."""
        async with self.write() as db:
            row = (
                await db.execute(
                    update(Message)
                    .where(self.owned(message_id), Message.status == "streaming")
                    .values(lease_until=self.until(), content=text)
                    .returning(Message.cancel_requested)
                )
            ).first()
            await db.commit()
        return row

    async def expired(self, at_start: bool = False, single: bool = False) -> list[tuple[str, str]]:
        """End streaming answers whose lease ran out as ``interrupted``; at start also this
        instance's own former answers (every answer when ``single``: only one instance can use
        an SQLite file). Returns their (conversation id, message id)."""
        now = datetime.now(UTC)
        stale: ColumnElement[bool] = Message.lease_until < now
        if at_start:
            stale = true() if single else stale | (Message.claimed_by == self.instance_id)
        async with self.write() as db:
            rows = (
                await db.execute(
                    update(Message)
                    .where(Message.status == "streaming", stale)
                    .values(
                        status="interrupted",
                        error="the server writing this answer stopped; ask again",
                        claimed_by=None,
                        lease_until=None,
                        updated_at=now,
                    )
                    .returning(Message.conversation_id, Message.id)
                )
            ).all()
            await db.commit()
        return [(str(c), str(m)) for c, m in rows]
