"""SessionStore: the signed cookie, lookup, expiry and sliding expiry, ending sessions."""

from __future__ import annotations

from datetime import UTC

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.services.users.sessions import SessionStore, hash_session_id
from productdemo.storage.models import Revocation, Session, User
from tests.services.users.conftest import Clock
from tests.support import unique_name

Db = async_sessionmaker[AsyncSession]
SECRET = b"test-secret-key"
LIFETIME = 100.0


async def _user(db: Db, disabled: bool = False) -> User:
    user = User(username=unique_name(), password_hash="unused", role="user", disabled=disabled)
    async with db() as s:
        s.add(user)
        await s.commit()
    return user


async def _stored_expiry(db: Db, session_hash: str) -> float | None:
    async with db() as s:
        value = await s.scalar(select(Session.expires_at).where(Session.id_hash == session_hash))
    return None if value is None else value.replace(tzinfo=UTC).timestamp()


@pytest.fixture
def store(db: Db, clock: Clock) -> SessionStore:
    return SessionStore(db, SECRET, LIFETIME, clock=clock)


def test_sign_then_unsign_returns_the_id(store: SessionStore) -> None:
    """A signed session id unsigns to the same id, and the cookie is ``<id>.<signature>``."""
    cookie = store.sign("abc123")
    assert cookie.startswith("abc123.")
    assert store.unsign(cookie) == "abc123"


def test_tampered_cookie_is_refused(store: SessionStore) -> None:
    """Changing the id or the signature of a cookie makes it unsign to None."""
    cookie = store.sign("abc123")
    assert store.unsign("abc124" + cookie[6:]) is None
    assert store.unsign(cookie[:-1] + ("A" if cookie[-1] != "A" else "B")) is None
    assert store.unsign("abc123") is None
    assert store.unsign("") is None


def test_cookie_signed_with_another_key_is_refused(db: Db, store: SessionStore) -> None:
    """A cookie signed with a different secret does not unsign."""
    other = SessionStore(db, b"another-secret", LIFETIME)
    assert store.unsign(other.sign("abc123")) is None


async def test_lookup_returns_the_session_of_a_new_cookie(db: Db, store: SessionStore, clock: Clock) -> None:
    """A created session is found by its cookie, with the user's id, name, role and expiry."""
    user = await _user(db)
    cookie, record = await store.create(user)
    found = await store.lookup(cookie)
    assert found is record
    assert (found.user_id, found.username, found.role) == (user.id, user.username, "user")
    assert found.expires_at == clock.now + LIFETIME
    assert found.session_hash == hash_session_id(store.unsign(cookie) or "")


async def test_only_a_hash_of_the_session_id_is_stored(db: Db, store: SessionStore) -> None:
    """The database row is keyed by the SHA-256 of the id, never the id or the cookie."""
    user = await _user(db)
    cookie, record = await store.create(user)
    session_id = store.unsign(cookie)
    async with db() as s:
        keys = (await s.scalars(select(Session.id_hash).where(Session.user_id == user.id))).all()
    assert keys == [record.session_hash]
    assert session_id not in keys


async def test_lookup_of_a_foreign_or_unknown_cookie_is_none(db: Db, store: SessionStore) -> None:
    """A cookie from another key, or a well-signed id with no session, finds nothing."""
    user = await _user(db)
    cookie, _ = await store.create(user)
    assert await SessionStore(db, b"another-secret", LIFETIME).lookup(cookie) is None
    assert await store.lookup(store.sign("no-such-session")) is None


async def test_session_expires_after_its_lifetime(db: Db, store: SessionStore, clock: Clock) -> None:
    """Without activity a session is valid until its lifetime has passed, then lookup is None."""
    user = await _user(db)
    cookie, record = await store.create(user)
    clock.advance(LIFETIME - 1)
    assert await store.lookup(cookie) is record
    assert not store.is_expired(record.session_hash)
    clock.advance(1)
    assert store.is_expired(record.session_hash)
    assert await store.lookup(cookie) is None


async def test_expiry_survives_a_restart(db: Db, store: SessionStore, clock: Clock) -> None:
    """A store with an empty cache (another instance, a restart) loads the session and its expiry."""
    user = await _user(db)
    cookie, _ = await store.create(user)
    fresh = SessionStore(db, SECRET, LIFETIME, clock=clock)
    found = await fresh.lookup(cookie)
    assert found is not None
    assert found.expires_at == pytest.approx(clock.now + LIFETIME, abs=1e-3)
    clock.advance(LIFETIME)
    assert await SessionStore(db, SECRET, LIFETIME, clock=clock).lookup(cookie) is None


async def test_touch_slides_the_expiry(db: Db, store: SessionStore, clock: Clock) -> None:
    """Activity renews the lifetime from now: a session touched at 60 s lives until 160 s."""
    user = await _user(db)
    cookie, record = await store.create(user)
    start = clock.now
    clock.advance(60)
    store.touch(record)
    assert record.expires_at == start + 60 + LIFETIME
    clock.advance(LIFETIME - 1)
    assert await store.lookup(cookie) is record
    assert store.seconds_left(record.session_hash) == 1.0
    await store.drain()


async def test_touch_persists_at_most_every_step(db: Db, store: SessionStore, clock: Clock) -> None:
    """The slid expiry is written only once it moved a tenth of the lifetime past the stored one."""
    user = await _user(db)
    _, record = await store.create(user)
    start = clock.now
    clock.advance(9)
    assert store.touch(record) is False
    await store.drain()
    assert await _stored_expiry(db, record.session_hash) == pytest.approx(start + LIFETIME, abs=1e-3)
    clock.advance(1)
    assert store.touch(record) is True
    await store.drain()
    assert await _stored_expiry(db, record.session_hash) == pytest.approx(start + 10 + LIFETIME, abs=1e-3)
    clock.advance(5)
    assert store.touch(record) is False
    await store.drain()
    assert await _stored_expiry(db, record.session_hash) == pytest.approx(start + 10 + LIFETIME, abs=1e-3)


async def test_a_disabled_users_session_is_not_loaded(db: Db, store: SessionStore, clock: Clock) -> None:
    """Loading a session from the database skips users that are disabled."""
    user = await _user(db, disabled=True)
    cookie, _ = await store.create(user)
    assert await SessionStore(db, SECRET, LIFETIME, clock=clock).lookup(cookie) is None


async def test_end_deletes_the_session_and_logs_a_revocation(db: Db, store: SessionStore) -> None:
    """Ending a session makes its cookie invalid everywhere and appends one revocation row."""
    user = await _user(db)
    cookie, record = await store.create(user)
    await store.end(record.session_hash, "logout")
    assert await store.lookup(cookie) is None
    async with db() as s:
        rows = (
            await s.execute(
                select(Revocation.user_id, Revocation.session_hash, Revocation.reason).where(
                    Revocation.user_id == user.id
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [(user.id, record.session_hash, "logout")]


async def test_end_user_ends_every_session_of_that_user(db: Db, store: SessionStore) -> None:
    """Ending a user's sessions invalidates all their cookies but no one else's."""
    user, other = await _user(db), await _user(db)
    first, _ = await store.create(user)
    second, _ = await store.create(user)
    others, _ = await store.create(other)
    async with db() as s:
        await store.end_user(s, user.id, "disabled")
        await s.commit()
    assert await store.lookup(first) is None
    assert await store.lookup(second) is None
    assert await store.lookup(others) is not None


async def test_expire_reports_expired_sessions_once(db: Db, store: SessionStore, clock: Clock) -> None:
    """expire() drops and returns the expired sessions, including ones a lookup found expired."""
    user = await _user(db)
    cookie, expired = await store.create(user)
    clock.advance(LIFETIME / 2)
    _, live = await store.create(user)
    clock.advance(LIFETIME / 2)
    assert await store.lookup(cookie) is None
    assert await store.expire() == [expired.session_hash]
    assert await store.expire() == []
    assert not store.is_expired(live.session_hash)


async def test_expire_does_not_report_ended_sessions(db: Db, store: SessionStore, clock: Clock) -> None:
    """A session ended by logout is not reported as expired, even once its lifetime has passed."""
    user = await _user(db)
    _, record = await store.create(user)
    await store.end(record.session_hash, "logout")
    clock.advance(LIFETIME)
    assert await store.expire() == []


async def test_an_expiry_slid_on_another_instance_is_seen_before_refusing(
    db: Db, store: SessionStore, clock: Clock
) -> None:
    """An instance whose cached expiry has passed reads the row before refusing the session or
    reporting it expired: activity on another instance may have slid it."""
    here = SessionStore(db, SECRET, LIFETIME, clock=clock)
    user = await _user(db)
    cookie, _ = await store.create(user)
    cached = await here.lookup(cookie)
    assert cached is not None
    clock.advance(LIFETIME / 2)
    assert await store.lookup(cookie) is not None
    other = store._cache[cached.session_hash]
    assert store.touch(other)  # the other instance's activity, saved to the row
    await store.drain()
    clock.advance(LIFETIME * 0.75)
    assert await here.expire() == []
    found = await here.lookup(cookie)
    assert found is not None and found.expires_at == other.expires_at
    clock.advance(LIFETIME)
    assert await here.lookup(cookie) is None
    assert await here.expire() == [cached.session_hash]


async def test_a_saved_expiry_never_moves_back(db: Db, store: SessionStore, clock: Clock) -> None:
    """An instance saving an older slid expiry does not undo a later one saved by another."""
    behind = SessionStore(db, SECRET, LIFETIME, clock=clock)
    user = await _user(db)
    cookie, record = await store.create(user)
    stale = await behind.lookup(cookie)
    assert stale is not None
    clock.advance(LIFETIME / 2)
    assert store.touch(record)
    await store.drain()
    clock.advance(-LIFETIME / 4)  # the other instance acts on an earlier moment
    assert behind.touch(stale)
    await behind.drain()
    assert await _stored_expiry(db, record.session_hash) == pytest.approx(record.expires_at, abs=0.01)
