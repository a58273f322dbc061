"""Claims on answers being written, so every answer ends even when its instance dies.

The instance writing an answer holds ``claimed_by``/``lease_until`` on its message row. One
keeper task per instance renews the claims of all its answers every third of the lease, in
one transaction: one UPDATE for every lease (which also reads whether Stop was asked for),
and one batched UPDATE saving the text so far of the answers that grew. Its cost is one
connection per instance, whatever the number of answers: a keeper per answer needed a
connection per answer at each renewal and, at 200 answers on PostgreSQL, exhausted the pool
until a renewal came too late. Rules that keep this correct:

- A renewal that finds a claim gone (the row deleted, or ended by another instance) stops
  that answer at once. A renewal that fails (database unreachable) is retried soon, and
  each answer is stopped only once its lease may have run out, because another instance may
  then have ended it as ``interrupted``.
- An answer is released before its final write, and every write after the start is guarded
  by ``claimed_by = <this instance>``, so a stale owner never overwrites the row.
- A message still ``streaming`` whose lease ran out is ended as ``interrupted`` by any
  instance (the sweep; never one this instance still holds), and a restarted instance ends
  its own former answers at start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Table, bindparam, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.storage.database import to_completion
from productdemo.storage.models import Message

logger = logging.getLogger(__name__)

# The table itself: the batched text save is a Core executemany (the ORM's bulk UPDATE by
# primary key cannot carry the ownership guard).
_messages: Table = Message.__table__  # type: ignore[assignment]
# After a failed renewal, the next try comes this soon (capped at a sixth of the lease).
RETRY_SECONDS = 0.5


@dataclass(eq=False)
class Held:
    """An answer this instance is writing: how to read its text and how to stop it."""

    text: Callable[[], str]
    on_cancel: Callable[[], object]
    on_lost: Callable[[], object]
    # Monotonic time of the start of the last renewal that reached the row (or of the claim).
    renewed: float
    saved: int = 0


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
        self.serializes = serialize_writes
        self._writes: AbstractAsyncContextManager[object] = (
            asyncio.Lock() if serialize_writes else nullcontext()
        )
        self._held: dict[str, Held] = {}
        self._keeper: asyncio.Task[None] | None = None

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

    def held(self) -> list[str]:
        return list(self._held)

    def hold(
        self,
        message_id: str,
        text: Callable[[], str],
        on_cancel: Callable[[], object],
        on_lost: Callable[[], object],
    ) -> None:
        """Keep the claim on ``message_id`` (just written) until :meth:`release`; call
        ``on_cancel`` when the owner asked to stop (through any instance), ``on_lost`` when the
        claim is gone or may have run out.

        Each renewal also saves the text so far (one write per third of the lease, never per
        token), so another instance serving a reload shows it, and a crash loses less.
        """
        self._held[message_id] = Held(text, on_cancel, on_lost, renewed=time.monotonic())
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(self._keep(), name="chat-lease-keeper")

    def release(self, message_id: str) -> None:
        """Stop renewing ``message_id``: called before the write that ends its claim."""
        self._held.pop(message_id, None)

    async def close(self) -> None:
        """Stop the keeper (shutdown; the answers were ended first)."""
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None

    async def _keep(self) -> None:
        wait = self.seconds / 3
        while self._held:
            await asyncio.sleep(wait)
            wait = self.seconds / 3
            batch = dict(self._held)
            if not batch:
                break
            started = time.monotonic()
            texts = {mid: h.text() for mid, h in batch.items()}
            try:
                # This keeper is cancelled at shutdown: never mid-transaction (guarantees rule 8).
                found = await to_completion(self._renew(batch, texts))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("renewing %d answer leases failed; retrying", len(batch), exc_info=True)
                self._give_up_expired(batch)
                wait = min(RETRY_SECONDS, self.seconds / 6)
                continue
            for message_id, held in batch.items():
                if self._held.get(message_id) is not held:
                    continue  # released (its final write is under way) while we renewed
                if message_id not in found:
                    logger.info("answer %s is gone or was ended elsewhere; stopping", message_id)
                    self._held.pop(message_id, None)
                    held.on_lost()
                    continue
                held.renewed = started
                held.saved = len(texts[message_id])
                if found[message_id]:
                    held.on_cancel()

    def _give_up_expired(self, batch: dict[str, Held]) -> None:
        """After a failed renewal: stop the answers whose lease may have run out by the next try."""
        # The lease runs from the start of the last renewal that reached the row; the next try
        # comes after RETRY_SECONDS, so an answer is given up when that try would be too late.
        horizon = time.monotonic() + min(RETRY_SECONDS, self.seconds / 6)
        for message_id, held in batch.items():
            if self._held.get(message_id) is held and horizon - held.renewed >= self.seconds:
                logger.warning("answer %s: lease may have run out; stopping", message_id)
                self._held.pop(message_id, None)
                held.on_lost()

    async def _renew(self, batch: dict[str, Held], texts: dict[str, str]) -> dict[str, bool]:
        """One transaction renews every claim, saves the texts that grew and reads which
        answers were asked to stop. Returns ``{message id: cancel requested}`` for the claims
        still held."""
        mine = (_messages.c.claimed_by == self.instance_id) & (_messages.c.status == "streaming")
        async with self.write() as db:
            rows = (
                await db.execute(
                    update(_messages)
                    .where(_messages.c.id.in_(list(batch)), mine)
                    .values(lease_until=self.until())
                    .returning(_messages.c.id, _messages.c.cancel_requested)
                )
            ).all()
            found = {str(mid): bool(cancel) for mid, cancel in rows}
            grown = [
                {"b_id": mid, "b_text": texts[mid]}
                for mid, held in batch.items()
                if mid in found and len(texts[mid]) != held.saved
            ]
            if grown:
                # One executemany for all of them, guarded like every owner's write.
                await db.execute(
                    update(_messages)
                    .where(_messages.c.id == bindparam("b_id"), mine)
                    .values(content=bindparam("b_text")),
                    grown,
                )
            await db.commit()
        return found

    async def expired(self, at_start: bool = False, single: bool = False) -> list[tuple[str, str]]:
        """End streaming answers whose lease ran out as ``interrupted``; at start also this
        instance's own former answers (every answer when ``single``: only one instance can use
        an SQLite file). Never an answer this instance holds: its keeper answers for it, and a
        renewal merely late (a busy pool, a slow disk) must not end an answer still being
        written. Returns their (conversation id, message id)."""
        now = datetime.now(UTC)
        stale: ColumnElement[bool] = Message.lease_until < now
        if at_start:
            stale = true() if single else stale | (Message.claimed_by == self.instance_id)
        held = self.held()
        if held:
            stale = stale & ~(Message.id.in_(held) & (Message.claimed_by == self.instance_id))
        # The sweep is cancelled at shutdown: never mid-transaction (guarantees rule 8).
        return await to_completion(self._end(stale, now))

    async def _end(self, stale: ColumnElement[bool], now: datetime) -> list[tuple[str, str]]:
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
                    .execution_options(synchronize_session=False)
                )
            ).all()
            await db.commit()
        return [(str(c), str(m)) for c, m in rows]
