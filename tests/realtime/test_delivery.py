"""Delivery guarantees end to end: resume through random drops, restarts and slow consumers."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from productdemo.realtime.connection import Principal
from productdemo.realtime.events import Event
from productdemo.realtime.router import Router
from tests.realtime.resuming_client import ResumingClient
from tests.support import MS, LiveServer, RawClient, close_code, make_config, parse_frame


class Tick(Event):
    """A test event that must never be merged."""

    event_type = "test_tick"
    n: int


class BigTick(Event):
    """A large test event that must never be merged."""

    event_type = "test_big_tick"
    n: int
    pad: str = "x" * 2000


class DocState(Event):
    """A test state event: a newer one for the same document supersedes the older."""

    event_type = "test_doc_state"
    doc: int
    n: int
    pad: str = "x" * 1000

    def conflation_key(self) -> str:
        return f"test_doc_state:{self.doc}"


async def _allow(_p: Principal, _topic: str) -> bool:
    return True


async def test_random_drops_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    """A client dropping its connection every 50-500 ms while 10,000 events are published on
    several streams ends with every event exactly once, in order per stream."""
    live = LiveServer(make_config(tmp_path, realtime={"history_size": 5000}))
    await live.start()
    try:
        router: Router = live.app.websocket.router  # type: ignore[union-attr]
        router.add_topic("chaos", _allow)
        user_id, cookie = await live.user_session()
        client = ResumingClient(live, cookie, topics=("chaos:a", "chaos:b"))
        stop = asyncio.Event()
        runner = asyncio.create_task(client.run(stop))
        while client.connects == 0 or "topic:chaos:b" not in client.positions:
            await asyncio.sleep(10 * MS)
        rng = random.Random(7)

        async def chaos() -> None:
            while not stop.is_set():
                await asyncio.sleep(rng.uniform(50, 500) * MS)
                client.drop()

        dropper = asyncio.create_task(chaos())
        events = live.services.events
        sent: dict[str, list[int]] = {}
        for n in range(10_000):
            target = n % 4
            if target == 0:
                await events.to_user(user_id, Tick(n=n))
                stream = f"user:{user_id}"
            elif target == 1:
                await events.to_all(Tick(n=n))
                stream = "all"
            else:
                topic = "chaos:a" if target == 2 else "chaos:b"
                await events.to_topic(topic, Tick(n=n))
                stream = f"topic:{topic}"
            sent.setdefault(stream, []).append(n)
            if n % 10 == 0:
                await asyncio.sleep(1 * MS)
        stop.set()
        dropper.cancel()
        # A last connection picks up whatever the final drop missed.
        await asyncio.sleep(300 * MS)
        final = asyncio.Event()
        last_run = asyncio.create_task(client.run(final))
        for _ in range(300):
            if all(len(client.delivered.get(s, [])) >= len(ns) for s, ns in sent.items()):
                break
            await asyncio.sleep(10 * MS)
        final.set()
        client.drop()
        await asyncio.gather(runner, last_run, return_exceptions=True)
        assert client.connects > 4
        assert client.resyncs == []
        for stream, numbers in sent.items():
            got = client.delivered[stream]
            assert [e["payload"]["n"] for e in got if e["type"] == "test_tick"] == numbers, stream
            seqs = [e["seq"] for e in got]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    finally:
        await live.stop()


async def test_restart_tells_the_client_to_resync(tmp_path: Path) -> None:
    """After a restart of the embedded server, resuming from an old position gets
    resync_required with the new epoch, and new events then arrive from there."""
    config = make_config(tmp_path)
    live = LiveServer(config)
    await live.start()
    user_id, cookie = await live.user_session()
    client = ResumingClient(live, cookie)
    stop = asyncio.Event()
    runner = asyncio.create_task(client.run(stop))
    while client.connects == 0:
        await asyncio.sleep(10 * MS)
    await live.services.events.to_user(user_id, Tick(n=1))
    stream = f"user:{user_id}"
    while not client.delivered.get(stream):
        await asyncio.sleep(10 * MS)
    old_epoch = client.positions[stream][0]
    port = live.port
    await live.stop(keep_database=True)
    restarted = LiveServer(config)
    restarted.port = port
    await restarted.start()
    try:
        client.server = restarted
        for _ in range(500):
            if client.resyncs:
                break
            await asyncio.sleep(10 * MS)
        resync = next(r for r in client.resyncs if r["stream"] == stream)
        assert resync["epoch"] != old_epoch
        assert resync["reason"] == "epoch changed"
        await restarted.services.events.to_user(user_id, Tick(n=2))
        for _ in range(200):
            if len(client.delivered[stream]) == 2:
                break
            await asyncio.sleep(10 * MS)
        assert [e["payload"]["n"] for e in client.delivered[stream]] == [1, 2]
        assert client.positions[stream][0] == resync["epoch"]
    finally:
        stop.set()
        client.drop()
        await asyncio.gather(runner, return_exceptions=True)
        await restarted.stop()


async def test_slow_reader_gets_the_final_state_of_every_document(tmp_path: Path) -> None:
    """A socket reading slowly through 5,000 status updates for 50 documents ends with each
    document's final state, every seq accounted for, and a bounded queue."""
    live = LiveServer(make_config(tmp_path, realtime={"send_queue_max": 256}))
    await live.start()
    try:
        user_id, cookie = await live.user_session()
        raw = await RawClient.open(live, cookie, rcvbuf=4096)
        hub = live.services.hub
        await asyncio.sleep(50 * MS)
        (conn,) = hub.registry.by_id.values()
        frames: list[dict[str, Any]] = []
        reading = True

        async def read_slowly() -> None:
            import orjson

            buf = b""
            while reading or buf:
                chunk = await asyncio.wait_for(raw.reader.read(4096), 5)
                if not chunk:
                    return
                buf += chunk
                while (parsed := parse_frame(buf)) is not None:
                    frames.append(orjson.loads(parsed[0][1]))
                    buf = buf[parsed[1] :]
                await asyncio.sleep(1 * MS)

        reader = asyncio.create_task(read_slowly())
        longest = 0
        for n in range(5000):
            await live.services.events.to_user(user_id, DocState(doc=n % 50, n=n))
            longest = max(longest, conn.queued())
            if n % 25 == 0:
                await asyncio.sleep(0)
        for _ in range(1000):
            latest = {f["payload"]["doc"]: f["payload"]["n"] for f in frames if f["type"] == "test_doc_state"}
            if len(latest) == 50 and all(n >= 4950 for n in latest.values()):
                break
            await asyncio.sleep(10 * MS)
        reading = False
        reader.cancel()
        assert latest == {doc: 4950 + doc for doc in range(50)}
        assert conn.is_open
        assert longest <= 256 + 2 * 64
        stream = f"user:{user_id}"
        seen = {f["seq"] for f in frames if f.get("stream") == stream}
        for f in frames:
            if f["type"] == "skipped":
                seen.update(f["payload"]["seqs"])
        assert sorted(seen) == list(range(min(seen), max(seen) + 1))
        assert any(f["type"] == "skipped" for f in frames)
        raw.close()
    finally:
        await live.stop()


async def test_unmergeable_burst_closes_4408_then_resume_misses_nothing(tmp_path: Path) -> None:
    """A stalled socket overflowing with events that must not be merged is closed with 4408;
    reconnecting with resume from its last seq replays everything it missed."""
    live = LiveServer(make_config(tmp_path, realtime={"send_queue_max": 64, "history_size": 5000}))
    await live.start()
    try:
        user_id, cookie = await live.user_session()
        raw = await RawClient.open(live, cookie)
        for n in range(3000):
            await live.services.events.to_user(user_id, BigTick(n=n))
            if n % 10 == 0:
                await asyncio.sleep(0)
        frames = await raw.read_frames()
        raw.close()
        assert close_code(frames) == 4408
        import orjson

        messages = [orjson.loads(p) for op, p in frames if op == 1]
        hello = messages[0]
        stream = f"user:{user_id}"
        ticks = [m for m in messages if m["type"] == "test_big_tick"]
        last = ticks[-1]["seq"] if ticks else hello["payload"]["streams"][stream]["seq"]
        client = ResumingClient(live, cookie)
        client.positions[stream] = (hello["payload"]["streams"][stream]["epoch"], last)
        stop = asyncio.Event()
        runner = asyncio.create_task(client.run(stop))
        for _ in range(500):
            if len(client.delivered.get(stream, [])) + len(ticks) >= 3000:
                break
            await asyncio.sleep(10 * MS)
        stop.set()
        client.drop()
        await asyncio.gather(runner, return_exceptions=True)
        numbers = [t["payload"]["n"] for t in ticks] + [e["payload"]["n"] for e in client.delivered[stream]]
        assert numbers == list(range(3000))
        assert client.resyncs == []
    finally:
        await live.stop()
