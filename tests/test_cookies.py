"""cookies.py: one session-cookie reader for /ws and REST; ambiguous duplicates are refused."""

from __future__ import annotations

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from productdemo.cookies import AmbiguousCookie, cookie_values, session_token
from tests.support import LiveServer, recv_type


def test_cookie_values_in_order() -> None:
    """Every value of the named cookie is found, quotes removed, other cookies ignored."""
    assert cookie_values('a=1; connect.sid="x"; b=2;connect.sid=y', "connect.sid") == ["x", "y"]
    assert cookie_values("connect.sidx=1; xconnect.sid=2", "connect.sid") == []


def test_session_token_refuses_different_duplicates() -> None:
    """Two different session cookies are ambiguous; the same one twice is not."""
    assert session_token([(b"cookie", b"connect.sid=s1; connect.sid=s1")]) == "s1"
    assert session_token([(b"cookie", b"other=1")]) is None
    with pytest.raises(AmbiguousCookie):
        session_token([(b"cookie", b"connect.sid=s1; connect.sid=s2")])
    with pytest.raises(AmbiguousCookie):
        session_token([(b"cookie", b"connect.sid=s1"), (b"cookie", b"connect.sid=s2")])


async def test_both_doors_refuse_an_ambiguous_cookie(server: LiveServer) -> None:
    """A valid session beside a second, different connect.sid gets 400 on REST and on /ws alike."""
    _, good = await server.user_session()
    _, other = await server.user_session()
    for header in (f"connect.sid={good}; connect.sid={other}", f"connect.sid=junk; connect.sid={good}"):
        async with server.client(headers={"Cookie": header}) as http:
            response = await http.get("/api/auth/me")
        assert response.status_code == 400
        assert response.json()["code"] == "bad_request"
        with pytest.raises(InvalidStatus) as info:
            async with connect(server.ws_url, additional_headers={"Cookie": header, "Origin": server.origin}):
                pass
        assert info.value.response.status_code == 400
    async with server.client(headers={"Cookie": f"connect.sid={good}; connect.sid={good}"}) as http:
        assert (await http.get("/api/auth/me")).status_code == 200
    async with server.connect(good) as ws:
        await recv_type(ws, "hello")
