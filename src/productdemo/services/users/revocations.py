"""Follow the revocation log and session expiry; close the sockets of sessions that ended.

Every way a session ends (logout, password change, disable — from this instance, another
one, or the command line) appends a row to ``revocations``. Each instance reads the log
every ``interval`` seconds, drops those sessions from its cache and closes their local
sockets with 4401. It also closes sockets whose session expired (by its row, which other
instances may have slid), and every ``revalidate_interval`` seconds checks each cached
session against its row, which catches whatever the log missed.

Ids are handed out at insert, not at commit (PostgreSQL sequences), so a row with a lower
id can become visible after a higher one was read. The follower therefore never stops at
the highest id it saw: it reads again every row above the highest id it saw at least
``window`` seconds ago, and remembers the ids it applied, so a revocation is applied once
however late (within ``window``) its transaction commits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.realtime.protocol import CloseCode
from productdemo.services.users.sessions import SessionStore
from productdemo.storage.database import to_completion
from productdemo.storage.models import Revocation

logger = logging.getLogger(__name__)

KEEP_LOG_SECONDS = 3600
# How long a revocation's transaction may stay open after taking its id and still be
# applied through the log (the periodic revalidation catches anything later).
WINDOW_SECONDS = 60.0


class SocketCloser(Protocol):
    def close_session(self, session_hash: str, code: CloseCode, reason: str) -> int: ...

    def close_user(self, user_id: int, code: CloseCode, reason: str) -> int: ...


class RevocationFollower:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        sessions: SessionStore,
        sockets: SocketCloser,
        interval: float = 0.5,
        revalidate_interval: float = 30.0,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._sessions = sessions
        self._sockets = sockets
        self.interval = interval
        self.revalidate_interval = revalidate_interval
        self._window = window
        self._clock = clock
        # Rows above ``_floor`` are read on every poll; ``_applied`` holds those done.
        self._floor = 0
        self._applied: set[int] = set()
        # (when, highest id seen then): the floor moves to an id once it is ``window`` old.
        self._marks: deque[tuple[float, int]] = deque()
        self._last_revalidation = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Read where the log stands, then fill the session cache, then follow the log.

        In this order, a revocation committed while the cache fills is still applied.
        """
        async with self._db() as db:
            # Rows already committed were applied by whoever ended those sessions (their
            # rows are gone, so the cache never loads them): count them as applied. Rows
            # below the highest id may still commit, so the floor stays at 0 for a window.
            self._applied = set((await db.scalars(select(Revocation.id))).all())
        self._floor = 0
        self._marks.append((self._clock(), max(self._applied, default=0)))
        await self._sessions.preload()
        self._last_revalidation = self._clock()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="revocation-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll()
                if self._clock() - self._last_revalidation >= self.revalidate_interval:
                    await self.revalidate()
                rounds += 1
                if rounds % 7200 == 0:
                    # This task is cancelled at stop, and writers follow (claims given back).
                    await to_completion(self._cleanup())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("revocation follower failed; retrying")

    async def poll(self) -> None:
        """Apply new revocations and close the sockets of expired sessions."""
        await self._apply_log()
        for session_hash in await self._sessions.expire():
            self._sockets.close_session(session_hash, CloseCode.SESSION_ENDED, "expired")

    async def revalidate(self) -> None:
        """Drop cached sessions whose row is gone and close their sockets."""
        self._last_revalidation = self._clock()
        gone = await self._sessions.revalidate()
        if not gone:
            return
        # Their revocations name the reason; what the log still lacks is closed as revoked.
        await self._apply_log()
        for session_hash in gone:
            if self._sockets.close_session(session_hash, CloseCode.SESSION_ENDED, "revoked"):
                logger.warning("session %s… had ended without a revocation seen here", session_hash[:8])

    async def _apply_log(self) -> None:
        now = self._clock()
        async with self._db() as db:
            rows = (
                await db.execute(
                    select(Revocation.id, Revocation.user_id, Revocation.session_hash, Revocation.reason)
                    .where(Revocation.id > self._floor)
                    .order_by(Revocation.id)
                )
            ).all()
        for row_id, user_id, session_hash, reason in rows:
            if row_id in self._applied:
                continue
            self._applied.add(row_id)
            if session_hash is None:
                self._sessions.forget_user(user_id)
                self._sockets.close_user(user_id, CloseCode.SESSION_ENDED, reason)
            else:
                self._sessions.forget(session_hash)
                self._sockets.close_session(session_hash, CloseCode.SESSION_ENDED, reason)
        if rows:
            self._advance(now, rows[-1][0])
        self._raise_floor(now)

    def _advance(self, now: float, highest: int) -> None:
        """Remember the highest id seen now."""
        if not self._marks or highest > self._marks[-1][1]:
            self._marks.append((now, highest))

    def _raise_floor(self, now: float) -> None:
        """Stop reading below the highest id seen ``window`` ago: its peers have committed."""
        while self._marks and now - self._marks[0][0] >= self._window:
            _, mark = self._marks.popleft()
            if mark > self._floor:
                self._floor = mark
                self._applied = {i for i in self._applied if i > mark}

    async def _cleanup(self) -> None:
        await self._sessions.delete_expired()
        cutoff = datetime.now(UTC) - timedelta(seconds=KEEP_LOG_SECONDS)
        async with self._db() as db:
            await db.execute(delete(Revocation).where(Revocation.created_at < cutoff))
            await db.commit()
