"""/api/auth: sign in, who am I, sign out, throttling, sliding expiry, sockets closed at logout."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.support import MS, PASSWORD, LiveServer, StartServer, close_of, recv_type, send_json

BAD_CREDENTIALS = {"detail": "wrong username or password", "code": "unauthorized"}
SIGN_IN_FIRST = {"detail": "sign in first", "code": "unauthorized"}


def _with_cookie(server: LiveServer, cookie: str) -> httpx.AsyncClient:
    return server.client(headers={"Cookie": f"connect.sid={cookie}"})


async def _login(server: LiveServer, username: str, password: str = PASSWORD) -> httpx.Response:
    async with server.client() as http:
        return await http.post("/api/auth/login", json={"username": username, "password": password})


def _cookie_attributes(response: httpx.Response) -> tuple[str, set[str]]:
    """The session cookie's value and its attributes (lower-cased names) from Set-Cookie."""
    [header] = response.headers.get_list("set-cookie")
    first, *attributes = (part.strip() for part in header.split(";"))
    name, _, value = first.partition("=")
    assert name == "connect.sid"
    return value, {a.lower() for a in attributes}


async def test_login_sets_an_httponly_lax_session_cookie(server: LiveServer) -> None:
    """Sign-in answers 200 and sets connect.sid HttpOnly, SameSite=Lax, Path=/, and not Secure over http."""
    user_id, name = await server.create_user()
    response = await _login(server, name)
    assert response.status_code == 200
    assert response.json() == {"user": {"id": user_id, "username": name, "role": "user"}}
    value, attributes = _cookie_attributes(response)
    assert value
    assert attributes == {"httponly", "samesite=lax", "path=/", "max-age=1209600"}


async def test_login_cookie_is_secure_when_configured(start_server: StartServer) -> None:
    """With cookie_secure = always the session cookie is marked Secure even over http."""
    live = await start_server(security={"cookie_secure": "always"})
    _, name = await live.create_user()
    response = await _login(live, name)
    assert response.status_code == 200
    _, attributes = _cookie_attributes(response)
    assert attributes == {"httponly", "samesite=lax", "path=/", "max-age=1209600", "secure"}


async def test_wrong_password_and_unknown_user_get_the_same_401(server: LiveServer) -> None:
    """A wrong password and an unknown username are indistinguishable: 401 with one body, no cookie."""
    _, name = await server.create_user()
    wrong = await _login(server, name, "not the password")
    unknown = await _login(server, "nobody_" + name, PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json() == BAD_CREDENTIALS
        assert "set-cookie" not in response.headers


async def test_disabled_user_cannot_log_in(server: LiveServer) -> None:
    """A disabled account gets the same 401 as a wrong password."""
    _, name = await server.create_user()
    await server.services.users.disable(name)
    response = await _login(server, name)
    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS


async def test_repeated_failures_are_throttled(start_server: StartServer) -> None:
    """After login_max_failures failures even the right password gets 429 with Retry-After."""
    live = await start_server(security={"login_max_failures": 3, "login_window": 60})
    _, name = await live.create_user()
    statuses = [(await _login(live, name, "wrong password")).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    response = await _login(live, name)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "60"
    assert response.json() == {
        "detail": "too many failed sign-in attempts; try again later",
        "code": "rate_limited",
    }


async def test_me_with_and_without_a_session(server: LiveServer) -> None:
    """/me returns the signed-in user, and 401 without a cookie or with a forged one."""
    user_id, cookie = await server.user_session("admin")
    async with _with_cookie(server, cookie) as http:
        response = await http.get("/api/auth/me")
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user_id
    assert response.json()["user"]["role"] == "admin"
    async with server.client() as http:
        anonymous = await http.get("/api/auth/me")
    async with _with_cookie(server, cookie[:-2] + "xx") as http:
        forged = await http.get("/api/auth/me")
    for response in (anonymous, forged):
        assert response.status_code == 401
        assert response.json() == SIGN_IN_FIRST


async def test_logout_ends_the_session(server: LiveServer) -> None:
    """Logout answers 204, clears the cookie, and the old cookie then gets 401 on /me."""
    _, cookie = await server.user_session()
    async with _with_cookie(server, cookie) as http:
        response = await http.post("/api/auth/logout")
    assert response.status_code == 204
    value, attributes = _cookie_attributes(response)
    assert value in ("", '""')
    assert "max-age=0" in attributes
    async with _with_cookie(server, cookie) as http:
        after = await http.get("/api/auth/me")
    assert after.status_code == 401
    assert after.json() == SIGN_IN_FIRST


async def test_logout_without_a_session_is_401(server: LiveServer) -> None:
    """Logging out with no session is refused with 401."""
    async with server.client() as http:
        response = await http.post("/api/auth/logout")
    assert response.status_code == 401
    assert response.json() == SIGN_IN_FIRST


async def test_logout_closes_that_sessions_sockets_only(server: LiveServer) -> None:
    """Logout closes that session's socket with 4401 and its cookie then gets 401; other sessions stay."""
    _, name = await server.create_user()
    first, second = await server.login(name), await server.login(name)
    async with server.connect(first) as ws1, server.connect(second) as ws2:
        await recv_type(ws1, "hello")
        await recv_type(ws2, "hello")
        async with _with_cookie(server, first) as http:
            assert (await http.post("/api/auth/logout")).status_code == 204
        assert await close_of(ws1) == (4401, "logout")
        await send_json(ws2, {"type": "ping", "id": "still-here"})
        pong = await recv_type(ws2, "pong")
        assert pong["id"] == "still-here"
    with pytest.raises(InvalidStatus) as info:
        async with server.connect(first):
            pass
    assert info.value.response.status_code == 401


async def test_activity_slides_the_session_over_http(start_server: StartServer) -> None:
    """Each request renews a session's lifetime and the cookie's Max-Age; idle past the lifetime it ends."""
    live = await start_server(security={"session_lifetime": 1})
    _, name = await live.create_user()
    cookie = await live.login(name)
    async with _with_cookie(live, cookie) as http:
        for _ in range(2):
            await asyncio.sleep(600 * MS)
            response = await http.get("/api/auth/me")
            assert response.status_code == 200
            renewed = (cookie, {"httponly", "samesite=lax", "path=/", "max-age=1"})
            assert _cookie_attributes(response) == renewed
        await asyncio.sleep(1100 * MS)
        response = await http.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json() == SIGN_IN_FIRST
