"""CrossSiteGuard: state-changing /api requests must come from an allowed origin."""

from __future__ import annotations

import httpx

from tests.support import PASSWORD, LiveServer

REFUSED = {"detail": "cross-site request refused: origin not allowed", "code": "forbidden"}


def _bare(server: LiveServer, **headers: str) -> httpx.AsyncClient:
    """A client that sends only the headers given: no Origin unless asked, like curl."""
    return httpx.AsyncClient(base_url=server.http_url, headers=headers)


async def _me_status(server: LiveServer, cookie: str) -> int:
    async with _bare(server, Cookie=f"connect.sid={cookie}") as http:
        return (await http.get("/api/auth/me")).status_code


async def test_foreign_origin_is_refused_with_403(server: LiveServer) -> None:
    """A POST with a session cookie from another site's page gets 403 and changes nothing."""
    _, cookie = await server.user_session()
    async with _bare(server, Cookie=f"connect.sid={cookie}", Origin="http://evil.example") as http:
        response = await http.post("/api/auth/logout")
    assert response.status_code == 403
    assert response.json() == REFUSED
    assert await _me_status(server, cookie) == 200


async def test_foreign_origin_login_is_refused(server: LiveServer) -> None:
    """Signing in from another site's page (login CSRF) is refused even without a cookie."""
    _, name = await server.create_user()
    async with _bare(server, Origin="http://evil.example") as http:
        response = await http.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 403
    assert response.json() == REFUSED


async def test_cookie_without_origin_or_referer_is_refused(server: LiveServer) -> None:
    """A POST carrying the session cookie but neither Origin nor Referer gets 403."""
    _, cookie = await server.user_session()
    async with _bare(server, Cookie=f"connect.sid={cookie}") as http:
        response = await http.post("/api/auth/logout")
    assert response.status_code == 403
    assert response.json() == REFUSED
    assert await _me_status(server, cookie) == 200


async def test_same_origin_referer_is_enough(server: LiveServer) -> None:
    """Without Origin, a Referer from the server's own pages lets the POST through."""
    _, cookie = await server.user_session()
    referer = server.http_url + "/settings?tab=account"
    async with _bare(server, Cookie=f"connect.sid={cookie}", Referer=referer) as http:
        response = await http.post("/api/auth/logout")
    assert response.status_code == 204
    assert await _me_status(server, cookie) == 401


async def test_foreign_referer_is_refused(server: LiveServer) -> None:
    """Without Origin, a Referer from another site is refused."""
    _, cookie = await server.user_session()
    async with _bare(server, Cookie=f"connect.sid={cookie}", Referer="http://evil.example/x") as http:
        response = await http.post("/api/auth/logout")
    assert response.status_code == 403
    assert response.json() == REFUSED


async def test_login_without_cookie_or_origin_is_allowed(server: LiveServer) -> None:
    """A script's sign-in (no cookie, no Origin, as curl sends it) is allowed."""
    user_id, name = await server.create_user()
    async with _bare(server) as http:
        response = await http.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user_id


async def test_safe_methods_are_not_checked(server: LiveServer) -> None:
    """A GET with a foreign Origin is answered normally (reads change nothing)."""
    _, cookie = await server.user_session()
    async with _bare(server, Cookie=f"connect.sid={cookie}", Origin="http://evil.example") as http:
        response = await http.get("/api/auth/me")
    assert response.status_code == 200
