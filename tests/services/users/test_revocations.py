"""RevocationFollower: sockets close with 4401 when their session ends, however it ends."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.exceptions import InvalidStatus

from productdemo.config import RealtimeSettings
from productdemo.realtime.broker import MemoryBroker
from productdemo.realtime.history import MemoryHistory
from productdemo.realtime.hub import Hub
from productdemo.services.users.passwords import Passwords
from productdemo.services.users.revocations import RevocationFollower
from productdemo.services.users.service import UserService
from productdemo.services.users.sessions import SessionStore
from productdemo.storage.database import create_engine, create_session_factory
from productdemo.storage.models import Revocation, Session, User
from tests.support import MS, LiveServer, StartServer, close_of, recv_type, send_json, unique_name


async def _upgrade_status(server: LiveServer, cookie: str) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with server.connect(cookie):
            pass
    return info.value.response.status_code


async def test_set_password_closes_all_of_that_users_sockets(server: LiveServer) -> None:
    """A password change closes every socket of every session of the user with 4401 within 1 s."""
    _, name = await server.create_user()
    first, second = await server.login(name), await server.login(name)
    _, other = await server.user_session()
    async with server.connect(first) as ws1, server.connect(second) as ws2, server.connect(other) as ws3:
        for ws in (ws1, ws2, ws3):
            await recv_type(ws, "hello")
        await server.services.users.set_password(name, "a new password entirely")
        assert await close_of(ws1) == (4401, "password_changed")
        assert await close_of(ws2) == (4401, "password_changed")
        await send_json(ws3, {"type": "ping", "id": 1})
        assert (await recv_type(ws3, "pong"))["id"] == 1
    assert await _upgrade_status(server, first) == 401


async def test_disable_closes_all_of_that_users_sockets(server: LiveServer) -> None:
    """Disabling a user closes all their sockets with 4401 within 1 s and refuses new upgrades."""
    _, name = await server.create_user()
    first, second = await server.login(name), await server.login(name)
    async with server.connect(first) as ws1, server.connect(second) as ws2:
        await recv_type(ws1, "hello")
        await recv_type(ws2, "hello")
        await server.services.users.disable(name)
        assert await close_of(ws1) == (4401, "disabled")
        assert await close_of(ws2) == (4401, "disabled")
    assert await _upgrade_status(server, second) == 401


async def test_revocation_from_another_process_closes_sockets(server: LiveServer) -> None:
    """A user disabled through another process's service (as the CLI does) loses their sockets within 1 s."""
    _, name = await server.create_user()
    cookie = await server.login(name)
    engine = create_engine(server.config.database_url)
    try:
        db = create_session_factory(engine)
        elsewhere = UserService(
            db, SessionStore(db, server.config.secret_key(), 1), Passwords(time_cost=1, memory_kib=1024)
        )
        async with server.connect(cookie) as ws:
            await recv_type(ws, "hello")
            await elsewhere.disable(name)
            assert await close_of(ws) == (4401, "disabled")
    finally:
        await engine.dispose()
    assert await _upgrade_status(server, cookie) == 401


async def test_session_expiry_closes_an_idle_socket(start_server: StartServer) -> None:
    """An idle socket is closed with 4401 "expired" within about a second after its session expires."""
    live = await start_server(security={"session_lifetime": 1})
    _, name = await live.create_user()
    before_login = time.monotonic()
    cookie = await live.login(name)
    async with live.connect(cookie) as ws:
        await recv_type(ws, "hello")
        assert await close_of(ws, 2500 * MS) == (4401, "expired")
    assert 1.0 <= time.monotonic() - before_login < 1.0 + 1100 * MS
    assert await _upgrade_status(live, cookie) == 401


async def test_socket_activity_keeps_the_session_alive(start_server: StartServer) -> None:
    """Messages from the client slide the session, so an active socket outlives the lifetime."""
    live = await start_server(security={"session_lifetime": 1})
    _, name = await live.create_user()
    cookie = await live.login(name)
    async with live.connect(cookie) as ws:
        await recv_type(ws, "hello")
        for i in range(4):
            await asyncio.sleep(400 * MS)
            await send_json(ws, {"type": "ping", "id": i})
            assert (await recv_type(ws, "pong"))["id"] == i
    async with live.client(headers={"Cookie": f"connect.sid={cookie}"}) as http:
        assert (await http.get("/api/auth/me")).status_code == 200


async def _session_hash(server: LiveServer, cookie: str) -> str:
    """The session hash behind ``cookie``, as the server's session store knows it."""
    record = await server.services.sessions.lookup(cookie)
    assert record is not None
    return str(record.session_hash)


async def _end_in_log(server: LiveServer, session_hash: str, row_id: int) -> None:
    """End a session as another instance's logout does, with the revocation id given."""
    async with server.services.db() as db:
        await db.execute(delete(Session).where(Session.id_hash == session_hash))
        await db.execute(
            insert(Revocation).values(id=row_id, user_id=0, session_hash=session_hash, reason="logout")
        )
        await db.commit()


async def test_a_revocation_committed_below_an_applied_id_still_ends_the_session(server: LiveServer) -> None:
    """A revocation whose id is lower than one already applied (ids are handed out at insert,
    not at commit) still closes the session's sockets and refuses its cookie."""
    _, first_name = await server.create_user()
    _, second_name = await server.create_user()
    first, second = await server.login(first_name), await server.login(second_name)
    first_hash, second_hash = await _session_hash(server, first), await _session_hash(server, second)
    async with server.connect(first) as ws1, server.connect(second) as ws2:
        await recv_type(ws1, "hello")
        await recv_type(ws2, "hello")
        async with server.services.db() as db:
            highest = int(await db.scalar(select(func.max(Revocation.id))) or 0)
        # The later transaction commits first, with the higher id, and is applied here...
        await _end_in_log(server, second_hash, highest + 100)
        assert await close_of(ws2) == (4401, "logout")
        # ...then the earlier one commits: its lower id was taken before.
        await _end_in_log(server, first_hash, highest + 50)
        assert await close_of(ws1) == (4401, "logout")
    assert await _upgrade_status(server, first) == 401


async def test_a_session_ended_without_a_revocation_is_dropped_by_revalidation(
    start_server: StartServer,
) -> None:
    """A session whose row is gone though no revocation was seen (a missed log entry) stops
    working on this instance at the next revalidation: socket closed 4401, cookie refused."""
    live = await start_server(security={"session_revalidate_interval": 0.5})
    _, name = await live.create_user()
    cookie = await live.login(name)
    session_hash = await _session_hash(live, cookie)
    async with live.connect(cookie) as ws:
        await recv_type(ws, "hello")
        async with live.services.db() as db:
            await db.execute(delete(Session).where(Session.id_hash == session_hash))
            await db.commit()
        assert await close_of(ws, 3000 * MS) == (4401, "revoked")
    async with live.client(headers={"Cookie": f"connect.sid={cookie}"}) as http:
        assert (await http.get("/api/auth/me")).status_code == 401


async def test_a_revocation_committed_while_the_cache_fills_is_applied(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """A session ended while an instance starts (after its cache was filled, before it follows
    the log) is not left in that cache: the follower reads the log's start point first."""
    sessions = SessionStore(db, b"secret", 3600)
    elsewhere = SessionStore(db, b"secret", 3600)
    async with db() as s:
        user = User(username=unique_name(), password_hash="unused", role="user")
        s.add(user)
        await s.commit()
    cookie, record = await elsewhere.create(user)
    preload = sessions.preload

    async def preload_then_logout(limit: int = 100_000) -> int:
        count = await preload(limit)
        await elsewhere.end(record.session_hash, "logout")  # commits during the start-up
        return count

    sessions.preload = preload_then_logout  # type: ignore[method-assign]
    hub = Hub(MemoryBroker(MemoryHistory(10, 60)), RealtimeSettings())
    follower = RevocationFollower(db, sessions, hub, interval=0.01)
    await follower.start()
    try:
        await follower.poll()
        assert record.session_hash not in sessions._cache
        assert await sessions.lookup(cookie) is None
    finally:
        await follower.stop()
