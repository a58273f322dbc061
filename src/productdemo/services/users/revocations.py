"""Follow the revocation log and session expiry; close the sockets of sessions that ended.

Every way a session ends (logout, password change, disable — from this instance, another
one, or the command line) appends a row to ``revocations``. Each instance reads rows
newer than the last it saw every ``interval`` seconds, drops those sessions from its
cache and closes their local sockets with 4401. It also closes sockets whose session
expired. One indexed query per interval per instance: cheap, and needs no broker.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.realtime.protocol import CloseCode
from productdemo.services.users.sessions import SessionStore
from productdemo.storage.models import Revocation

logger = logging.getLogger(__name__)

KEEP_LOG_SECONDS = 3600


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
    ) -> None:
        self._db = db
        self._sessions = sessions
        self._sockets = sockets
        self.interval = interval
        self._last_id = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self._db() as db:
            self._last_id = int(await db.scalar(select(func.max(Revocation.id))) or 0)
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
                rounds += 1
                if rounds % 7200 == 0:
                    await self._cleanup()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("revocation follower failed; retrying")

    async def poll(self) -> None:
        """Apply new revocations and close the sockets of expired sessions."""
        async with self._db() as db:
            rows = (
                await db.execute(
                    select(Revocation.id, Revocation.user_id, Revocation.session_hash, Revocation.reason)
                    .where(Revocation.id > self._last_id)
                    .order_by(Revocation.id)
                )
            ).all()
        for row_id, user_id, session_hash, reason in rows:
            self._last_id = row_id
            if session_hash is None:
                self._sessions.forget_user(user_id)
                self._sockets.close_user(user_id, CloseCode.SESSION_ENDED, reason)
            else:
                self._sessions.forget(session_hash)
                self._sockets.close_session(session_hash, CloseCode.SESSION_ENDED, reason)
        for session_hash in self._sessions.prune():
            self._sockets.close_session(session_hash, CloseCode.SESSION_ENDED, "expired")

    async def _cleanup(self) -> None:
        await self._sessions.delete_expired()
        cutoff = datetime.now(UTC) - timedelta(seconds=KEEP_LOG_SECONDS)
        async with self._db() as db:
            await db.execute(delete(Revocation).where(Revocation.created_at < cutoff))
            await db.commit()
