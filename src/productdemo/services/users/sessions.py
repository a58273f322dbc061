"""Server-side sessions: a signed id in the ``connect.sid`` cookie, a row per session.

The cookie holds ``<id>.<signature>`` (itsdangerous, HMAC-SHA1 keyed by the secret); the
database keeps only a SHA-256 of the id, so a leaked table signs nobody in. Looked-up
sessions are cached in memory, so a WebSocket upgrade costs a signature check and a dict
lookup. The cache stays correct because every way a session ends writes a row to the
revocation log, which each instance follows (``revocations.py``), and because the follower
re-reads every cached session now and then (:meth:`SessionStore.revalidate`). An expiry is
never trusted from the cache alone: another instance may have slid it, so the row is read
again before a session is refused or its sockets are closed as expired.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

from itsdangerous import BadSignature, Signer
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.services.users.session_rows import SessionRecord, SessionRows, hash_session_id, to_datetime
from productdemo.storage.models import Revocation, Session, User

__all__ = ["SessionRecord", "SessionStore", "hash_session_id"]

logger = logging.getLogger(__name__)

# Sessions cached at start-up; beyond this, sessions are loaded on first use (batched).
PRELOAD_LIMIT = 100_000
# Loads retried when a revocation was applied while one was in flight.
LOAD_ATTEMPTS = 3


class SessionStore:
    """Create, look up, slide and end sessions."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        secret: bytes,
        lifetime: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._signer = Signer(secret, salt="connect.sid")
        self.lifetime = lifetime
        self._clock = clock
        self._cache: dict[str, SessionRecord] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self.rows = SessionRows(db)
        # Bumped whenever cached sessions are forgotten: a load that overlapped it may have
        # read a row from before the revocation and must not be cached.
        self._generation = 0
        # Persist a slid expiry only when it moved this far, so activity costs no write.
        self._persist_step = min(60.0, lifetime / 10)

    # --- cookie ------------------------------------------------------------------------

    def sign(self, session_id: str) -> str:
        return self._signer.sign(session_id).decode()

    def unsign(self, cookie_value: str) -> str | None:
        try:
            return self._signer.unsign(cookie_value).decode()
        except (BadSignature, UnicodeError):
            return None

    # --- lifecycle ---------------------------------------------------------------------

    async def create(self, user: User) -> tuple[str, SessionRecord]:
        """Start a session for ``user``; returns the cookie value and the record."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        record = SessionRecord(
            hash_session_id(session_id),
            user.id,
            user.username,
            user.role,
            now + self.lifetime,
            now + self.lifetime,
        )
        async with self._db() as db:
            db.add(
                Session(
                    id_hash=record.session_hash,
                    user_id=user.id,
                    created_at=to_datetime(now),
                    expires_at=to_datetime(record.expires_at),
                )
            )
            await db.commit()
        self._cache[record.session_hash] = record
        return self.sign(session_id), record

    async def lookup(self, cookie_value: str) -> SessionRecord | None:
        """The live session the cookie names, or None (bad signature, unknown, expired, disabled)."""
        session_id = self.unsign(cookie_value)
        if session_id is None:
            return None
        session_hash = hash_session_id(session_id)
        record = self._cache.get(session_hash)
        if record is None:
            record = await self._load_fresh(session_hash)
            if record is None:
                return None
        if record.expires_at <= self._clock():
            # Another instance may have slid it: only the row can say it expired.
            fresh = await self._load_fresh(session_hash)
            if fresh is None or fresh.expires_at <= self._clock():
                # Left in the cache for expire(), which reports it so its sockets are closed.
                return None
            record = fresh
        return record

    async def _load_fresh(self, session_hash: str) -> SessionRecord | None:
        """Load a session and cache it, unless a revocation overlapped the read."""
        for _ in range(LOAD_ATTEMPTS):
            generation = self._generation
            record = await self.rows.load(session_hash)
            if record is None:
                return None
            if generation == self._generation:
                return self._remember(record)
        return None  # revocations keep landing: refuse now, the client retries

    async def preload(self, limit: int = PRELOAD_LIMIT) -> int:
        """Cache the newest live sessions (start-up): after a restart every open tab
        reconnects at once, and each upgrade should then cost a dict lookup, not a query."""
        records = await self.rows.newest(self._clock(), limit)
        for record in records:
            self._cache.setdefault(record.session_hash, record)
        return len(records)

    def _remember(self, record: SessionRecord) -> SessionRecord:
        """Cache a record read from the row, keeping a later expiry slid here."""
        cached = self._cache.get(record.session_hash)
        if cached is None:
            self._cache[record.session_hash] = record
            return record
        cached.expires_at = max(cached.expires_at, record.expires_at)
        cached.persisted_expiry = max(cached.persisted_expiry, record.persisted_expiry)
        return cached

    def touch(self, record: SessionRecord) -> bool:
        """Slide the expiry (activity); written to the database at most every ``_persist_step``.

        Returns:
            True when the new expiry is being saved (time to renew the cookie's Max-Age too).
        """
        record.expires_at = self._clock() + self.lifetime
        if record.expires_at - record.persisted_expiry < self._persist_step:
            return False
        record.persisted_expiry = record.expires_at
        task = asyncio.get_running_loop().create_task(self._persist(record.session_hash, record.expires_at))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return True

    async def _persist(self, session_hash: str, expires_at: float) -> None:
        try:
            async with self._db() as db:
                # Only forward: another instance may have saved a later expiry meanwhile.
                await db.execute(
                    update(Session)
                    .where(Session.id_hash == session_hash, Session.expires_at < to_datetime(expires_at))
                    .values(expires_at=to_datetime(expires_at))
                )
                await db.commit()
        except Exception:
            logger.exception("could not save the expiry of a session")

    def touch_hash(self, session_hash: str) -> None:
        record = self._cache.get(session_hash)
        if record is not None:
            self.touch(record)

    def seconds_left(self, session_hash: str) -> float:
        record = self._cache.get(session_hash)
        return 0.0 if record is None else max(0.0, round(record.expires_at - self._clock(), 1))

    def is_expired(self, session_hash: str) -> bool:
        record = self._cache.get(session_hash)
        return record is None or record.expires_at <= self._clock()

    async def end(self, session_hash: str, reason: str) -> None:
        """End one session (logout): delete it and log the revocation for every instance."""
        record = self._cache.pop(session_hash, None)
        async with self._db() as db:
            user_id = (
                record.user_id
                if record
                else await db.scalar(select(Session.user_id).where(Session.id_hash == session_hash))
            )
            await db.execute(delete(Session).where(Session.id_hash == session_hash))
            if user_id is not None:
                await db.execute(
                    insert(Revocation).values(user_id=user_id, session_hash=session_hash, reason=reason)
                )
            await db.commit()

    async def end_user(self, db: AsyncSession, user_id: int, reason: str) -> None:
        """End every session of a user inside the caller's transaction (disable, new password)."""
        await db.execute(delete(Session).where(Session.user_id == user_id))
        await db.execute(insert(Revocation).values(user_id=user_id, session_hash=None, reason=reason))
        self.forget_user(user_id)

    # --- cache -------------------------------------------------------------------------

    def forget(self, session_hash: str) -> None:
        self._generation += 1
        self._cache.pop(session_hash, None)

    def forget_user(self, user_id: int) -> None:
        self._generation += 1
        for key in [k for k, r in self._cache.items() if r.user_id == user_id]:
            del self._cache[key]

    async def expire(self) -> list[str]:
        """Drop the records that expired, by their rows; returns their session hashes.

        A record that looks expired here is read again first: activity on another instance
        may have slid it, and then only its expiry is refreshed. Only expiry is reported
        here. A session missing from the cache was ended (logout, revocation), and whoever
        ended it closes its sockets with its own reason.
        """
        now = self._clock()
        candidates = [k for k, r in self._cache.items() if r.expires_at <= now]
        if not candidates:
            return []
        found = await self.rows.expiries(candidates)
        now = self._clock()
        expired = []
        for key in candidates:
            record = self._cache.get(key)
            if record is None:
                continue  # ended meanwhile
            record.expires_at = max(record.expires_at, found.get(key, 0.0))
            record.persisted_expiry = max(record.persisted_expiry, found.get(key, 0.0))
            if record.expires_at <= now:
                del self._cache[key]
                expired.append(key)
        return expired

    async def revalidate(self) -> list[str]:
        """Check every cached session against its row; drop and return those that are gone.

        The backstop behind the revocation log: whatever the log missed, a cached session
        whose row was deleted (or whose user was disabled) is dropped here. Live rows also
        refresh the cached expiry.
        """
        keys = list(self._cache)
        found = await self.rows.expiries(keys)
        gone = []
        for key in keys:
            record = self._cache.get(key)
            if record is None:
                continue  # ended meanwhile
            expires = found.get(key)
            if expires is None:
                del self._cache[key]
                gone.append(key)
                continue
            record.expires_at = max(record.expires_at, expires)
            record.persisted_expiry = max(record.persisted_expiry, expires)
        return gone

    async def delete_expired(self) -> int:
        async with self._db() as db:
            result = await db.execute(delete(Session).where(Session.expires_at <= to_datetime(self._clock())))
            await db.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    async def drain(self) -> None:
        """Wait for pending expiry writes (shutdown)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
