"""RevocationFollower: sockets close with 4401 when their session ends, however it ends."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.exceptions import InvalidStatus

from productdemo.services.users.passwords import Passwords
from productdemo.services.users.service import UserService
from productdemo.services.users.sessions import SessionStore
from productdemo.storage.database import create_engine, create_session_factory
from tests.support import MS, LiveServer, StartServer, close_of, recv_type, send_json


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
