"""realtime/endpoint.py: refusals at the door, the hello frame, the read loop."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from productdemo.realtime.protocol import HelloFrame
from tests.support import MS, PASSWORD, LiveServer, make_config, recv_json, recv_type, send_json


async def _status(server: LiveServer, cookie: str | None, origin: str | None = "default") -> int:
    with pytest.raises(InvalidStatus) as info:
        async with server.connect(cookie, origin):
            pass
    return info.value.response.status_code


async def test_upgrade_without_cookie_is_401(server: LiveServer) -> None:
    """Upgrade without a session cookie is refused with HTTP 401."""
    assert await _status(server, None) == 401


async def test_upgrade_with_forged_cookie_is_401(server: LiveServer) -> None:
    """A cookie whose signature does not verify is refused with HTTP 401."""
    _, cookie = await server.user_session()
    forged = cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB")
    assert await _status(server, forged) == 401
    assert await _status(server, "made-up-session.signature") == 401


async def test_upgrade_after_logout_is_401(server: LiveServer) -> None:
    """The cookie of a session that ended is refused with HTTP 401."""
    _, cookie = await server.user_session()
    async with server.client(cookies={"connect.sid": cookie}) as http:
        assert (await http.post("/api/auth/logout")).status_code == 204
    assert await _status(server, cookie) == 401


async def test_upgrade_with_expired_cookie_is_401(tmp_path: object) -> None:
    """The cookie of an expired session is refused with HTTP 401."""
    live = LiveServer(make_config(tmp_path, security={"session_lifetime": 1}))  # type: ignore[arg-type]
    await live.start()
    try:
        _, cookie = await live.user_session()
        await asyncio.sleep(1100 * MS)
        assert await _status(live, cookie) == 401
    finally:
        await live.stop()


async def test_disabled_user_is_401(server: LiveServer) -> None:
    """A disabled user's old cookie is refused with HTTP 401."""
    _, name = await server.create_user()
    cookie = await server.login(name)
    await server.services.users.disable(name)
    assert await _status(server, cookie) == 401


async def test_foreign_origin_is_403(server: LiveServer) -> None:
    """An Origin that is not allowed is refused with HTTP 403, even with a valid cookie."""
    _, cookie = await server.user_session()
    assert await _status(server, cookie, "http://evil.example") == 403


async def test_missing_origin_is_403(server: LiveServer) -> None:
    """A cookie-bearing upgrade without Origin is refused with HTTP 403."""
    _, cookie = await server.user_session()
    assert await _status(server, cookie, None) == 403


async def test_other_port_is_another_origin(server: LiveServer) -> None:
    """Same host but another port is a different origin."""
    _, cookie = await server.user_session()
    assert await _status(server, cookie, f"http://127.0.0.1:{server.port + 1}") == 403


async def test_configured_origin_is_allowed(tmp_path: object) -> None:
    """An origin in [security] allowed_origins may connect; the server's own then may not."""
    config = make_config(tmp_path, security={"allowed_origins": "https://app.example.com"})  # type: ignore[arg-type]
    live = LiveServer(config)
    await live.start()
    try:
        _, name = await live.create_user()
        async with live.client(headers={"Origin": "https://app.example.com"}) as http:
            response = await http.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        cookie = response.cookies["connect.sid"]
        async with live.connect(cookie, "https://app.example.com") as ws:
            assert (await recv_json(ws))["type"] == "hello"
        assert await _status(live, cookie) == 403
    finally:
        await live.stop()


async def test_hello_frame(server: LiveServer) -> None:
    """The first frame is hello with connection id, user, protocol, heartbeat, time and streams."""
    user_id, name = await server.create_user()
    cookie = await server.login(name)
    async with server.connect(cookie) as ws:
        hello = await recv_json(ws)
    payload = hello["payload"]
    assert hello["type"] == "hello"
    assert payload["connectionId"].startswith("c_")
    assert payload["user"] == {"id": user_id, "username": name, "role": "user"}
    assert payload["protocol"] == 1
    assert payload["heartbeatInterval"] == server.config.realtime.heartbeat_interval
    assert isinstance(payload["serverTime"], int)
    assert set(payload["streams"]) == {f"user:{user_id}", "all"}
    assert set(payload["streams"]["all"]) == {"epoch", "seq"}
    HelloFrame.model_validate(hello)


async def test_other_paths_are_not_websockets(server: LiveServer) -> None:
    """A WebSocket upgrade on a path other than /ws is not accepted."""
    _, cookie = await server.user_session()
    headers = {"Cookie": f"connect.sid={cookie}", "Origin": server.origin}
    from websockets.asyncio.client import connect

    with pytest.raises((InvalidStatus, ConnectionClosed)):
        async with connect(f"ws://127.0.0.1:{server.port}/api/ws", additional_headers=headers) as ws:
            await recv_json(ws)


async def test_binary_frames_get_an_error(server: LiveServer) -> None:
    """A binary frame gets a bad_request error and the socket stays open."""
    _, cookie = await server.user_session()
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await ws.send(b"\x00\x01")
        error = await recv_type(ws, "error")
        assert error["payload"]["code"] == "bad_request"
        await send_json(ws, {"type": "ping", "id": "after"})
        assert (await recv_type(ws, "pong"))["id"] == "after"


async def test_login_password_fixture_is_real(server: LiveServer) -> None:
    """Signing in with a wrong password fails, so the helpers use real credentials."""
    _, name = await server.create_user()
    async with server.client() as http:
        bad = await http.post("/api/auth/login", json={"username": name, "password": PASSWORD + "x"})
    assert bad.status_code == 401
