"""/api/notifications: stored while offline, paged, read state per user and synced to every tab."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from productdemo.storage.models import NotificationRead, StoredNotification
from tests.support import LiveServer, recv_type


async def _get(server: LiveServer, cookie: str, query: str = "") -> httpx.Response:
    async with server.client(cookies={"connect.sid": cookie}) as http:
        return await http.get(f"/api/notifications{query}")


async def _read(server: LiveServer, cookie: str, body: object) -> httpx.Response:
    async with server.client(cookies={"connect.sid": cookie}) as http:
        return await http.post("/api/notifications/read", json=body)


async def test_notifications_sent_while_offline_are_there_at_sign_in(server: LiveServer) -> None:
    """A user with no socket open gets announcements stored; after signing in the list has them, unread."""
    user_id, name = await server.create_user()
    await server.services.notifications.announce("first", "root", user_id)
    await server.services.notifications.announce("second", "root", user_id)
    cookie = await server.login(name)
    response = await _get(server, cookie)
    assert response.status_code == 200
    body = response.json()
    assert [(n["message"], n["read"], n["kind"]) for n in body["notifications"]][:2] == [
        ("second", False, "announcement"),
        ("first", False, "announcement"),
    ]
    assert body["unread"] >= 2


async def test_paging_goes_back_by_id(server: LiveServer) -> None:
    """``before`` and ``limit`` page back through older notifications, newest first, without overlap."""
    user_id, cookie = await server.user_session()
    for n in range(5):
        await server.services.notifications.announce(f"n{n}", "root", user_id)

    def own(page: dict[str, Any]) -> list[str]:
        return [x["message"] for x in page["notifications"] if x["message"].startswith("n")]

    first = (await _get(server, cookie, "?limit=2")).json()
    assert own(first) == ["n4", "n3"]
    second = (await _get(server, cookie, f"?limit=2&before={first['notifications'][-1]['id']}")).json()
    assert own(second) == ["n2", "n1"]


async def test_announcement_to_everyone_is_stored_once_with_read_state_per_user(server: LiveServer) -> None:
    """One row for an announcement to everyone; one user reading it leaves it unread for another."""
    _, alice = await server.user_session()
    _, bob = await server.user_session()
    note = await server.services.notifications.announce("to all", "root")
    async with server.services.db() as db:
        rows = await db.scalar(select(func.count()).where(StoredNotification.message == "to all"))
    assert rows == 1
    before = (await _get(server, bob)).json()["unread"]
    assert (await _read(server, alice, {"ids": [note.id]})).status_code == 200
    alice_items = {n["id"]: n["read"] for n in (await _get(server, alice)).json()["notifications"]}
    bob_items = {n["id"]: n["read"] for n in (await _get(server, bob)).json()["notifications"]}
    assert (alice_items[note.id], bob_items[note.id]) == (True, False)
    assert (await _get(server, bob)).json()["unread"] == before


async def test_announcements_sent_before_an_account_existed_never_count_for_it(server: LiveServer) -> None:
    """An announcement to everyone sent before an account was created is read for that account
    (its unread count is 0); the next one is unread. (Before: every earlier announcement was
    unread for each new account.)"""
    earlier = await server.services.notifications.announce("before you joined", "root")
    _, cookie = await server.user_session()
    body = (await _get(server, cookie)).json()
    assert body["unread"] == 0
    assert {n["id"]: n["read"] for n in body["notifications"]}[earlier.id] is True
    later = await server.services.notifications.announce("after you joined", "root")
    body = (await _get(server, cookie)).json()
    assert body["unread"] == 1
    assert [(n["id"], n["read"]) for n in body["notifications"]][:2] == [
        (later.id, False),
        (earlier.id, True),
    ]


async def test_mark_read_reaches_every_tab_of_the_user(server: LiveServer) -> None:
    """Marking read in one place sends notifications_read to each of the user's sockets."""
    user_id, name = await server.create_user()
    first, second = await server.login(name), await server.login(name)
    notes = [await server.services.notifications.announce(f"m{n}", "root", user_id) for n in range(3)]
    unread = (await _get(server, first)).json()["unread"]
    async with server.connect(first) as ws1, server.connect(second) as ws2:
        await recv_type(ws1, "hello")
        await recv_type(ws2, "hello")
        response = await _read(server, first, {"ids": [notes[0].id, notes[0].id]})
        assert response.json() == {"unread": unread - 1}
        for ws in (ws1, ws2):
            frame = await recv_type(ws, "notifications_read")
            assert frame["payload"] == {"ids": [notes[0].id], "all": False, "unread": unread - 1}
        response = await _read(server, second, {"all": True})
        assert response.json() == {"unread": 0}
        for ws in (ws1, ws2):
            frame = await recv_type(ws, "notifications_read")
            assert frame["payload"] == {"ids": [], "all": True, "unread": 0}
    page = (await _get(server, first)).json()
    assert page["unread"] == 0 and all(n["read"] for n in page["notifications"])
    async with server.services.db() as db:
        left = await db.scalar(select(func.count()).where(NotificationRead.user_id == user_id))
    assert left == 0  # "all" is one mark, not a row per notification


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, 'send either "ids" or "all": true'),
        ({"ids": [1], "all": True}, 'send either "ids" or "all": true'),
        ({"ids": [0]}, "ids.0: Input should be greater than or equal to 1"),
        ({"ids": [2**64]}, "ids.0: Input should be less than or equal to 9223372036854775807"),
    ],
)
async def test_bad_read_requests_are_refused(server: LiveServer, body: object, detail: str) -> None:
    """A read request with neither or both of ids/all, or a bad id, is a clear 400."""
    _, cookie = await server.user_session()
    response = await _read(server, cookie, body)
    assert response.status_code == 400
    assert detail in response.json()["detail"]


async def test_notifications_need_a_session(server: LiveServer) -> None:
    """Without a session the list is 401."""
    async with server.client() as http:
        assert (await http.get("/api/notifications")).status_code == 401


async def test_other_users_notifications_stay_hidden(server: LiveServer) -> None:
    """A notification for alice is neither listed for bob nor markable by him."""
    alice_id, _ = await server.user_session()
    _, bob = await server.user_session()
    note = await server.services.notifications.announce("private", "root", alice_id)
    assert note.id not in [n["id"] for n in (await _get(server, bob)).json()["notifications"]]
    await _read(server, bob, {"ids": [note.id]})
    async with server.services.db() as db:
        reads = await db.scalar(select(func.count()).where(NotificationRead.notification_id == note.id))
    assert reads == 0
