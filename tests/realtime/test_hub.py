"""realtime/hub.py: delivery by user, topic and everyone; slow consumers; resume."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from websockets.asyncio.client import ClientConnection

from productdemo.realtime.events import Event
from tests.support import MS, LiveServer, RawClient, close_code, make_config, recv_type, send_json


class Probe(Event):
    """A test event that counts its own serializations."""

    event_type = "test_probe"
    n: int
    encoded: ClassVar[int] = 0

    def payload_json(self) -> bytes:
        type(self).encoded += 1
        return super().payload_json()


async def _drain_probes(ws: ClientConnection, timeout: float = 300 * MS) -> list[dict[str, Any]]:
    got = []
    try:
        while True:
            got.append(await recv_type(ws, "test_probe", timeout))
    except TimeoutError:
        return got


async def test_to_user_and_to_all_reach_exactly_the_right_sockets(server: LiveServer) -> None:
    """Two users with several sockets each: to_user reaches that user's sockets only, to_all reaches all."""
    a_id, a_cookie = await server.user_session()
    b_id, b_cookie = await server.user_session()
    events = server.services.events
    conns = [server.connect(a_cookie) for _ in range(3)] + [server.connect(b_cookie) for _ in range(2)]
    sockets = [await c.__aenter__() for c in conns]
    try:
        for ws in sockets:
            await recv_type(ws, "hello")
        await events.to_user(a_id, Probe(n=1))
        await events.to_all(Probe(n=2))
        received = [await _drain_probes(ws) for ws in sockets]
        for got in received[:3]:
            assert [(e["payload"]["n"], e["stream"]) for e in got] == [(1, f"user:{a_id}"), (2, "all")]
        for got in received[3:]:
            assert [(e["payload"]["n"], e["stream"]) for e in got] == [(2, "all")]
        assert b_id != a_id
    finally:
        for c in conns:
            await c.__aexit__(None, None, None)


async def test_each_publish_is_serialized_once(server: LiveServer) -> None:
    """An event sent to many sockets is encoded once per publish, not once per socket."""
    _, cookie = await server.user_session()
    conns = [server.connect(cookie) for _ in range(4)]
    sockets = [await c.__aenter__() for c in conns]
    try:
        for ws in sockets:
            await recv_type(ws, "hello")
        before = Probe.encoded
        await server.services.events.to_all(Probe(n=3))
        assert Probe.encoded - before == 1
        for ws in sockets:
            assert len(await _drain_probes(ws)) == 1
    finally:
        for c in conns:
            await c.__aexit__(None, None, None)


async def test_seq_rises_by_one_per_stream(server: LiveServer) -> None:
    """Consecutive events on a user's stream carry consecutive seqs starting after hello's."""
    user_id, cookie = await server.user_session()
    async with server.connect(cookie) as ws:
        hello = await recv_type(ws, "hello")
        start = hello["payload"]["streams"][f"user:{user_id}"]["seq"]
        for n in range(5):
            await server.services.events.to_user(user_id, Probe(n=n))
        got = await _drain_probes(ws)
        assert [e["seq"] for e in got] == list(range(start + 1, start + 6))


async def test_resume_replays_what_was_missed(server: LiveServer) -> None:
    """After a reconnect, resume from the last seen position replays the missed events in order."""
    user_id, cookie = await server.user_session()
    stream = f"user:{user_id}"
    events = server.services.events
    async with server.connect(cookie) as ws:
        hello = await recv_type(ws, "hello")
        epoch = hello["payload"]["streams"][stream]["epoch"]
        await events.to_user(user_id, Probe(n=0))
        last = (await recv_type(ws, "test_probe"))["seq"]
    for n in range(1, 4):
        await events.to_user(user_id, Probe(n=n))
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await send_json(
            ws, {"type": "resume", "id": "r", "payload": {"streams": {stream: {"epoch": epoch, "seq": last}}}}
        )
        replayed = [await recv_type(ws, "test_probe") for _ in range(3)]
        ack = await recv_type(ws, "ack")
    assert [e["payload"]["n"] for e in replayed] == [1, 2, 3]
    assert [e["seq"] for e in replayed] == [last + 1, last + 2, last + 3]
    assert ack["payload"]["streams"][stream] == {
        "epoch": epoch,
        "seq": last + 3,
        "replayed": 3,
        "resync": False,
    }


async def test_resume_from_another_epoch_gets_resync_required(server: LiveServer) -> None:
    """A position from another epoch is answered with resync_required for that stream."""
    user_id, cookie = await server.user_session()
    stream = f"user:{user_id}"
    async with server.connect(cookie) as ws:
        hello = await recv_type(ws, "hello")
        current = hello["payload"]["streams"][stream]
        await send_json(
            ws, {"type": "resume", "id": "r", "payload": {"streams": {stream: {"epoch": "gone", "seq": 9}}}}
        )
        resync = await recv_type(ws, "resync_required")
    assert resync == {
        "type": "resync_required",
        "payload": {
            "stream": stream,
            "epoch": current["epoch"],
            "seq": current["seq"],
            "reason": "epoch changed",
        },
    }


async def test_slow_reader_is_closed_with_4408_and_delays_nobody(tmp_path: Any) -> None:
    """A socket that stops reading is closed with 4408 once its queue is full; a reading client
    gets every event of the same burst promptly."""
    live = LiveServer(make_config(tmp_path, realtime={"send_queue_max": 64}))
    await live.start()
    try:
        _, slow_cookie = await live.user_session()
        _, fast_cookie = await live.user_session()
        slow = await RawClient.open(live, slow_cookie)
        try:
            await _burst(live, fast_cookie)
            frames = await slow.read_frames()
            assert close_code(frames) == 4408
        finally:
            slow.close()
    finally:
        await live.stop()


async def _burst(live: LiveServer, fast_cookie: str) -> None:
    """Publish 3,000 events to everyone; a reading client gets all of them within 5 s."""
    async with live.connect(fast_cookie, max_queue=None) as fast:
        await recv_type(fast, "hello")
        pad = "x" * 1900
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(3000):
            await live.services.events.to_all(Burst(text=f"{n} {pad}"))
            if n % 10 == 0:
                await asyncio.sleep(0)  # a publisher that yields, as real services do
        for _ in range(3000):
            await recv_type(fast, "test_burst")
        assert loop.time() - started < 5


class Burst(Event):
    """A 2 kB event (announcements are stored in the database; this measures sockets alone)."""

    event_type = "test_burst"
    text: str


async def test_silent_peer_is_dropped_by_heartbeat(tmp_path: Any) -> None:
    """A peer that answers no pings is dropped within two heartbeat intervals and leaves the registry."""
    live = LiveServer(make_config(tmp_path, realtime={"heartbeat_interval": 0.2}))
    await live.start()
    try:
        _, cookie = await live.user_session()
        raw = await RawClient.open(live, cookie)
        try:
            registry = live.services.hub.registry
            await asyncio.sleep(50 * MS)
            assert len(registry) == 1
            await asyncio.sleep(600 * MS)
            assert len(registry) == 0
        finally:
            raw.close()
    finally:
        await live.stop()


@pytest.mark.parametrize("count", [100])
async def test_burst_to_one_socket_arrives_complete_and_ordered(server: LiveServer, count: int) -> None:
    """A burst of events to one socket arrives complete, in order, without gaps."""
    user_id, cookie = await server.user_session()
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        for n in range(count):
            await server.services.events.to_user(user_id, Probe(n=n))
        got = [await recv_type(ws, "test_probe") for _ in range(count)]
    assert [e["payload"]["n"] for e in got] == list(range(count))
    seqs = [e["seq"] for e in got]
    assert seqs == list(range(seqs[0], seqs[0] + count))
