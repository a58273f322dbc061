"""Reading session rows: batched loads, bulk re-reads and the start-up preload.

Every read joins the user and leaves out disabled users, so a row found here is a session
that may be used. Misses of one event-loop tick share one query: a reconnect storm (every
tab of every user after a restart) costs a few queries, not one round trip per socket.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ARRAY, String, any_, cast, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.storage.models import Session, User

# Session hashes per query when re-reading cached sessions.
READ_BATCH = 5000


@dataclass(slots=True)
class SessionRecord:
    session_hash: str
    user_id: int
    username: str
    role: str
    expires_at: float
    persisted_expiry: float


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def to_datetime(ts: float) -> datetime:
    """A stored timestamp (UTC) from seconds since the epoch."""
    return datetime.fromtimestamp(ts, UTC)


def to_timestamp(value: datetime) -> float:
    # SQLite returns naive datetimes; they were stored as UTC.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class SessionRows:
    """The session table as the cache reads it."""

    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db
        self._loading: dict[str, asyncio.Future[SessionRecord | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def load(self, session_hash: str) -> SessionRecord | None:
        """One usable session, or None; batched with the other loads of this tick."""
        future = self._loading.get(session_hash)
        if future is None:
            future = self._loading[session_hash] = asyncio.get_running_loop().create_future()
            if len(self._loading) == 1:
                asyncio.get_running_loop().call_soon(self._start_batch)
        return await asyncio.shield(future)

    def _start_batch(self) -> None:
        batch, self._loading = self._loading, {}
        task = asyncio.get_running_loop().create_task(self._load_batch(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load_batch(self, batch: dict[str, asyncio.Future[SessionRecord | None]]) -> None:
        try:
            async with self._db() as db:
                rows = (
                    await db.execute(
                        select(Session.id_hash, Session.expires_at, User.id, User.username, User.role)
                        .join(User, User.id == Session.user_id)
                        .where(Session.id_hash.in_(list(batch)), User.disabled.is_(False))
                    )
                ).all()
        except Exception as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
            return
        found = {}
        for session_hash, expires_at, user_id, username, role in rows:
            expires = to_timestamp(expires_at)
            found[session_hash] = SessionRecord(session_hash, user_id, username, role, expires, expires)
        for session_hash, future in batch.items():
            if not future.done():
                future.set_result(found.get(session_hash))

    async def expiries(self, session_hashes: list[str]) -> dict[str, float]:
        """The live sessions among ``session_hashes`` (user not disabled): hash -> expiry."""
        found: dict[str, float] = {}
        async with self._db() as db:
            postgres = db.get_bind().dialect.name == "postgresql"
            for i in range(0, len(session_hashes), READ_BATCH):
                batch = session_hashes[i : i + READ_BATCH]
                # One array parameter on PostgreSQL: an IN list of thousands of parameters
                # costs more to build than the query costs to run.
                wanted = (
                    Session.id_hash == any_(cast(literal(batch, ARRAY(String)), ARRAY(String)))
                    if postgres
                    else Session.id_hash.in_(batch)
                )
                rows = await db.execute(
                    select(Session.id_hash, Session.expires_at)
                    .join(User, User.id == Session.user_id)
                    .where(wanted, User.disabled.is_(False))
                )
                found.update((session_hash, to_timestamp(expires)) for session_hash, expires in rows.all())
        return found

    async def newest(self, now: float, limit: int) -> list[SessionRecord]:
        """The ``limit`` live sessions that expire last (the start-up preload)."""
        async with self._db() as db:
            rows = (
                await db.execute(
                    select(Session.id_hash, Session.expires_at, User.id, User.username, User.role)
                    .join(User, User.id == Session.user_id)
                    .where(Session.expires_at > to_datetime(now), User.disabled.is_(False))
                    .order_by(Session.expires_at.desc())
                    .limit(limit)
                )
            ).all()
        return [
            SessionRecord(session_hash, user_id, username, role, to_timestamp(expires), to_timestamp(expires))
            for session_hash, expires, user_id, username, role in rows
        ]
