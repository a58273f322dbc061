"""/api/admin: broadcasts reach sockets, connections are listed, only for administrators."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support import MS, LiveServer, StartServer, recv_json, recv_type

QUIET = 300 * MS


def _as(server: LiveServer, cookie: str) -> httpx.AsyncClient:
    return server.client(headers={"Cookie": f"connect.sid={cookie}"})


async def _broadcast(server: LiveServer, cookie: str, body: dict[str, Any]) -> httpx.Response:
    async with _as(server, cookie) as http:
        return await http.post("/api/admin/broadcast", json=body)


async def _admin(server: LiveServer) -> tuple[str, str]:
    """A signed-in administrator: (name, cookie)."""
    _, name = await server.create_user("admin")
    return name, await server.login(name)


def _check_created_at(frame: dict[str, Any]) -> None:
    """createdAt is a UTC ISO 8601 time from the last few seconds; removed so the rest compares exactly."""
    created = datetime.fromisoformat(frame["payload"].pop("createdAt"))
    assert created.tzinfo is not None
    assert 0 <= (datetime.now(UTC) - created).total_seconds() < 5


async def test_broadcast_needs_an_admin(server: LiveServer) -> None:
    """A signed-in user who is not an admin gets 403; nobody signed in gets 401."""
    _, cookie = await server.user_session()
    response = await _broadcast(server, cookie, {"message": "hello"})
    assert response.status_code == 403
    assert response.json() == {"detail": "administrators only", "code": "forbidden"}
    async with server.client() as http:
        anonymous = await http.post("/api/admin/broadcast", json={"message": "hello"})
    assert anonymous.status_code == 401


async def test_broadcast_reaches_every_socket(server: LiveServer) -> None:
    """An admin's broadcast answers 200 and arrives as a notification on stream all with the next seq."""
    admin_name, admin_cookie = await _admin(server)
    _, cookie = await server.user_session()
    async with server.connect(cookie) as ws:
        hello = await recv_type(ws, "hello")
        seq = hello["payload"]["streams"]["all"]["seq"]
        response = await _broadcast(server, admin_cookie, {"message": "Deploy at 18:00\nSave your work"})
        assert response.status_code == 200
        note_id = response.json()["id"]
        assert response.json() == {"sent": True, "id": note_id}
        frame = await recv_type(ws, "notification")
    _check_created_at(frame)
    assert frame == {
        "type": "notification",
        "payload": {
            "id": note_id,
            "kind": "announcement",
            "message": "Deploy at 18:00\nSave your work",
            "from": admin_name,
            "level": "info",
            "link": None,
        },
        "stream": "all",
        "seq": seq + 1,
    }


async def test_broadcast_to_one_user_reaches_only_their_sockets(server: LiveServer) -> None:
    """With userId the notification goes to each of that user's sockets (their stream) and to no one else."""
    admin_name, admin_cookie = await _admin(server)
    user_id, name = await server.create_user()
    first, second = await server.login(name), await server.login(name)
    _, other = await server.user_session()
    async with server.connect(first) as ws1, server.connect(second) as ws2, server.connect(other) as ws3:
        hello = await recv_type(ws1, "hello")
        await recv_type(ws2, "hello")
        await recv_type(ws3, "hello")
        seq = hello["payload"]["streams"][f"user:{user_id}"]["seq"]
        body = {"message": "Your export is ready", "userId": user_id, "level": "warning"}
        response = await _broadcast(server, admin_cookie, body)
        assert response.status_code == 200
        frames = [await recv_type(ws1, "notification"), await recv_type(ws2, "notification")]
        with pytest.raises(TimeoutError):
            await recv_json(ws3, QUIET)
    for frame in frames:
        _check_created_at(frame)
        assert frame == {
            "type": "notification",
            "payload": {
                "id": response.json()["id"],
                "kind": "announcement",
                "message": "Your export is ready",
                "from": admin_name,
                "level": "warning",
                "link": None,
            },
            "stream": f"user:{user_id}",
            "seq": seq + 1,
        }


async def test_broadcast_to_an_unknown_user_is_404(server: LiveServer) -> None:
    """Addressing a user id that does not exist answers 404 naming it."""
    _, admin_cookie = await _admin(server)
    response = await _broadcast(server, admin_cookie, {"message": "hello", "userId": 999999})
    assert response.status_code == 404
    assert response.json() == {"detail": "no user 999999", "code": "not_found"}


async def test_broadcast_to_a_user_id_past_64_bits_is_400(server: LiveServer) -> None:
    """A user id no database can hold is bad input (400), not a server error (found by schemathesis)."""
    _, admin_cookie = await _admin(server)
    response = await _broadcast(server, admin_cookie, {"message": "hello", "userId": 2**70})
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        ("ring \x07 ring", "the message contains control characters"),
        ("   ", "the message is empty"),
        ("x" * 2001, "the message has 2001 characters; at most 2000 are allowed"),
    ],
)
async def test_bad_message_is_400_and_delivers_nothing(server: LiveServer, message: str, detail: str) -> None:
    """A message with control characters, only blanks or too long gets 400 bad_request and reaches no one."""
    _, admin_cookie = await _admin(server)
    _, cookie = await server.user_session()
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        response = await _broadcast(server, admin_cookie, {"message": message})
        assert response.status_code == 400
        assert response.json() == {"detail": detail, "code": "bad_request"}
        with pytest.raises(TimeoutError):
            await recv_json(ws, QUIET)


async def _connections(server: LiveServer, cookie: str) -> dict[str, Any]:
    async with _as(server, cookie) as http:
        response = await http.get("/api/admin/connections")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_connections_lists_users_and_socket_counts(start_server: StartServer) -> None:
    """The listing shows each connected user with their number of open sockets, and follows closes."""
    live = await start_server()
    _, admin_cookie = await _admin(live)
    ann_id, ann = await live.create_user(name="ann")
    bob_id, bob = await live.create_user(name="bob")
    ann_cookie, bob_cookie = await live.login(ann), await live.login(bob)
    assert await _connections(live, admin_cookie) == {"users": [], "total": 0}
    async with live.connect(ann_cookie) as a1, live.connect(ann_cookie) as a2:
        async with live.connect(bob_cookie) as b1:
            for ws in (a1, a2, b1):
                await recv_type(ws, "hello")
            assert await _connections(live, admin_cookie) == {
                "users": [
                    {"userId": ann_id, "username": "ann", "connections": 2},
                    {"userId": bob_id, "username": "bob", "connections": 1},
                ],
                "total": 3,
            }
        expected = {"users": [{"userId": ann_id, "username": "ann", "connections": 2}], "total": 2}
        for _ in range(100):
            if await _connections(live, admin_cookie) == expected:
                break
            await asyncio.sleep(10 * MS)
        assert await _connections(live, admin_cookie) == expected


async def test_connections_needs_an_admin(server: LiveServer) -> None:
    """A user who is not an admin may not see who is connected."""
    _, cookie = await server.user_session()
    async with _as(server, cookie) as http:
        response = await http.get("/api/admin/connections")
    assert response.status_code == 403
    assert response.json() == {"detail": "administrators only", "code": "forbidden"}
