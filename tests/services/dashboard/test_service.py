"""The admin dashboard: figures that match what happened, conflated for a stalled socket."""

from __future__ import annotations

import asyncio

import orjson

from productdemo.realtime.events import Event
from tests.support import MS, LiveServer, RawClient, StartServer, parse_frame, recv_type, send_json


async def test_dashboard_counts_the_sockets_and_events_of_the_test(start_server: StartServer) -> None:
    """After N sockets open and M announcements go out, the figures differ from before by exactly that."""
    live = await start_server(dashboard={"interval": 0.1})
    _, admin = await live.user_session("admin")
    _, user = await live.user_session()
    n_sockets, m_events = 4, 7
    async with live.connect(admin) as ws:
        await recv_type(ws, "hello")
        await send_json(ws, {"type": "subscribe", "id": "d", "payload": {"topic": "admin:dashboard"}})
        await recv_type(ws, "ack")
        # The first update may have been read before this socket counted; the second was not.
        await recv_type(ws, "dashboard_update")
        base = await recv_type(ws, "dashboard_update")
        before = base["payload"]["figures"]["connections"]
        sockets = [await live.connect(user).__aenter__() for _ in range(n_sockets)]
        for sock in sockets:
            await recv_type(sock, "hello")
        for m in range(m_events):
            await live.services.notifications.announce(f"event {m}", "root")
        want_frames = m_events * (n_sockets + 1)
        for _ in range(100):
            frame = await recv_type(ws, "dashboard_update")
            now = frame["payload"]["figures"]["connections"]
            # Every dashboard update between the two also went out (to this admin socket).
            updates = frame["seq"] - base["seq"]
            if now["connections"] == before["connections"] + n_sockets and (
                now["eventsOut"] - before["eventsOut"] == m_events + updates
            ):
                break
        assert now["connections"] == before["connections"] + n_sockets
        assert now["users"] == before["users"] + 1
        assert now["eventsOut"] - before["eventsOut"] == m_events + updates
        assert now["framesOut"] - before["framesOut"] == want_frames + updates
        assert frame["payload"]["shared"]["documents"] == {"queued": 0, "processing": 0, "failedLastHour": 0}
        assert frame["payload"]["figures"]["broker"] == {"up": 1, "lagMs": 0}
        assert set(frame["payload"]["shared"]["presence"]) == {"online", "active"}
        assert frame["payload"]["shared"]["mcp"] == {"queued": 0, "running": 0}
        assert frame["payload"]["figures"]["chat"] == {"streaming": 0}
        for sock in sockets:
            await sock.close()


async def test_a_stalled_admin_socket_gets_the_latest_figures_not_a_backlog(
    start_server: StartServer,
) -> None:
    """While an admin socket reads nothing, dashboard updates replace each other in its queue."""
    live = await start_server(dashboard={"interval": 0.05})
    admin_id, admin = await live.user_session("admin")
    raw = await RawClient.open(live, admin, rcvbuf=4096)
    try:
        await _stall_and_read(live, admin_id, raw)
    finally:
        raw.close()


async def _stall_and_read(live: LiveServer, admin_id: int, raw: RawClient) -> None:
    hub = live.services.hub
    for _ in range(100):
        conns = list(hub.registry.of_user(admin_id))
        if conns:
            break
        await asyncio.sleep(10 * MS)
    (conn,) = conns
    await hub.subscribe(conn, "admin:dashboard")
    # 50 MB: more than the client reader buffers (2 x 16 MB) and the kernel together, so it stalls.
    for n in range(100):
        await live.services.events.to_user(admin_id, _Filler(data="x" * 500_000, n=n))
    conflated = hub.metrics.conflated
    published = hub.metrics.events_published
    await asyncio.sleep(1500 * MS)
    published = hub.metrics.events_published - published
    assert conn.paused
    types: list[str] = []
    buf = b""

    def backlog_read() -> bool:
        # The hundred fillers, then the one update that stood for all those published meanwhile.
        return types.count("test_filler") == 100 and "dashboard_update" in types[types.index("test_filler") :]

    async with asyncio.timeout(10):
        while not backlog_read():
            buf += await raw.reader.read(1 << 20)
            while (parsed := parse_frame(buf)) is not None:
                if parsed[0][0] == 1:
                    types.append(orjson.loads(parsed[0][1])["type"])
                buf = buf[parsed[1] :]
    assert published >= 5
    last_filler = len(types) - 1 - types[::-1].index("test_filler")
    assert types.count("dashboard_update") <= 3, types
    assert types[last_filler + 1 :].count("dashboard_update") >= 1
    assert hub.metrics.conflated - conflated >= published - 3
    assert "skipped" in types


class _Filler(Event):
    event_type = "test_filler"
    data: str
    n: int
