"""Presence on one instance: snapshot on subscribe, then diffs for joins, leaves and status."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support import MS, StartServer, recv_type, send_json


async def _subscribe(ws: Any, topic: str = "presence:app") -> dict[str, Any]:
    """Subscribe; returns the presence_state that follows the ack."""
    await send_json(ws, {"type": "subscribe", "id": "p", "payload": {"topic": topic}})
    ack = await recv_type(ws, "ack")
    assert ack["payload"]["topic"] == topic
    state = await recv_type(ws, "presence_state")
    assert state["stream"] == f"topic:{topic}" and "seq" not in state
    return state


async def test_state_then_diffs_for_join_idle_and_leave(start_server: StartServer) -> None:
    """A subscriber sees itself in the state, then a join, an idle update and a leave, versions +1."""
    live = await start_server(presence={"tick": 0.02})
    watcher_id, watcher_cookie = await live.user_session()
    other_id, other_name = await live.create_user()
    other_cookie = await live.login(other_name)
    async with live.connect(watcher_cookie) as ws:
        await recv_type(ws, "hello")
        state = await _subscribe(ws)
        while not any(u["userId"] == watcher_id for u in state["payload"]["users"]):
            diff = await recv_type(ws, "presence_diff")
            state["payload"]["users"] += diff["payload"]["joins"]
            state["payload"]["version"] = diff["payload"]["version"]
        version = state["payload"]["version"]
        async with live.connect(other_cookie) as other:
            await recv_type(other, "hello")
            diff = await recv_type(ws, "presence_diff")
            assert diff["payload"] == {
                "version": version + 1,
                "joins": [{"userId": other_id, "username": other_name, "status": "active"}],
                "leaves": [],
                "updates": [],
            }
            idle = {"method": "presence.activity", "params": {"status": "idle"}}
            await send_json(other, {"type": "rpc", "id": "a", "payload": idle})
            diff = await recv_type(ws, "presence_diff")
            assert (diff["payload"]["version"], diff["payload"]["updates"][0]["status"]) == (
                version + 2,
                "idle",
            )
        diff = await recv_type(ws, "presence_diff")
        assert diff["payload"] == {"version": version + 3, "joins": [], "leaves": [other_id], "updates": []}


async def test_five_tabs_are_one_person_until_the_last_closes(start_server: StartServer) -> None:
    """A user with several tabs joins once and leaves only when the last tab closes."""
    live = await start_server(presence={"tick": 0.02})
    _, watcher = await live.user_session()
    user_id, name = await live.create_user()
    cookie = await live.login(name)
    async with live.connect(watcher) as ws:
        await recv_type(ws, "hello")
        await _subscribe(ws)
        tabs = [await live.connect(cookie).__aenter__() for _ in range(3)]
        for tab in tabs:
            await recv_type(tab, "hello")
        diffs = [(await recv_type(ws, "presence_diff"))["payload"]]
        while user_id not in [u["userId"] for u in diffs[0]["joins"]]:
            diffs = [(await recv_type(ws, "presence_diff"))["payload"]]
        await tabs[0].close()
        await tabs[1].close()
        with pytest.raises(TimeoutError):  # two tabs closed, one open: still online
            diffs.append((await recv_type(ws, "presence_diff", timeout=300 * MS))["payload"])
        await tabs[2].close()
        diff = (await recv_type(ws, "presence_diff"))["payload"]
        assert (diff["leaves"], diff["version"]) == ([user_id], diffs[0]["version"] + 1)


async def test_admin_view_has_tabs_per_instance(start_server: StartServer) -> None:
    """presence:admin is refused to a user; an admin sees each user's tabs by instance."""
    live = await start_server(presence={"tick": 0.02}, server={"instance_id": "solo"})
    admin_id, admin_cookie = await live.user_session("admin")
    _, user_cookie = await live.user_session()
    async with live.connect(user_cookie) as ws:
        await recv_type(ws, "hello")
        await send_json(ws, {"type": "subscribe", "id": "s", "payload": {"topic": "presence:admin"}})
        assert (await recv_type(ws, "error"))["payload"]["code"] == "forbidden"
        rpc = {"method": "presence.state", "params": {"topic": "presence:admin"}}
        await send_json(ws, {"type": "rpc", "id": "r", "payload": rpc})
        assert (await recv_type(ws, "error"))["payload"]["code"] == "forbidden"
    async with live.connect(admin_cookie) as ws1, live.connect(admin_cookie) as ws2:
        await recv_type(ws1, "hello")
        await recv_type(ws2, "hello")
        for _ in range(200):
            state = await _subscribe(ws1, "presence:admin")
            await send_json(ws1, {"type": "unsubscribe", "id": "u", "payload": {"topic": "presence:admin"}})
            await recv_type(ws1, "ack")
            mine = [u for u in state["payload"]["users"] if u["userId"] == admin_id]
            if mine and mine[0]["tabs"] == 2:
                break
            await asyncio.sleep(20 * MS)
        assert mine[0]["instances"] == {"solo": 2}
