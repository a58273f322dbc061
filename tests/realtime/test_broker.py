"""One contract, every backend: the in-process broker and the Redis broker (real Redis)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from productdemo.realtime.broker import Broker, MemoryBroker
from productdemo.realtime.broker_redis import RedisBroker
from productdemo.realtime.events import Event
from productdemo.realtime.history import MemoryHistory, Position
from tests.conftest import skip_or_fail
from tests.support import MS

REDIS_URL = os.environ.get("PRODUCTDEMO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Beep(Event):
    """A test event."""

    event_type = "test_beep"
    n: int


class Received:
    def __init__(self) -> None:
        self.frames: list[tuple[str, int, dict[str, Any], str | None]] = []
        self.changed = asyncio.Event()

    def __call__(self, stream: str, seq: int, frame: bytes, key: str | None) -> None:
        self.frames.append((stream, seq, orjson.loads(frame), key))
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(2000 * MS):
            while len(self.frames) < count:
                self.changed.clear()
                await self.changed.wait()


async def redis_available() -> bool:
    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except OSError:
        return False
    except Exception:
        return False
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Broker, Received]]:
    received = Received()
    made: Broker
    if request.param == "memory":
        made = MemoryBroker(MemoryHistory(size=5, ttl=60))
    else:
        if not await redis_available():
            skip_or_fail(f"Redis is not reachable at {REDIS_URL}")
        prefix = f"pdtest:{uuid.uuid4().hex}"
        made = RedisBroker(REDIS_URL, prefix, history_size=5, history_ttl=60)
    made.attach(received)
    await made.start()
    try:
        yield made, received
    finally:
        await made.close()
        if request.param == "redis":
            client = aioredis.from_url(REDIS_URL)
            keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


async def test_subscribed_streams_are_delivered_with_rising_seq(broker: tuple[Broker, Received]) -> None:
    """Events on a subscribed stream reach the hub in order with seq 1, 2, 3 and their frame."""
    b, received = broker
    await b.subscribe("user:1")
    await asyncio.sleep(50 * MS)
    for n in range(3):
        await b.to_user(1, Beep(n=n))
    await received.wait_for(3)
    assert [(s, seq, f["payload"]["n"]) for s, seq, f, _ in received.frames] == [
        ("user:1", 1, 0),
        ("user:1", 2, 1),
        ("user:1", 3, 2),
    ]
    assert received.frames[0][2] == {"type": "test_beep", "payload": {"n": 0}, "stream": "user:1", "seq": 1}


async def test_position_and_replay(broker: tuple[Broker, Received]) -> None:
    """position() reports the head; replay() returns what followed a position, in order."""
    b, _ = broker
    start = await b.position("topic:t:x")
    assert start.seq == 0
    for n in range(4):
        await b.to_topic("t:x", Beep(n=n))
    head = await b.position("topic:t:x")
    assert (head.epoch, head.seq) == (start.epoch, 4)
    replay = await b.replay("topic:t:x", Position(start.epoch, 1))
    assert [orjson.loads(f)["payload"]["n"] for f in replay.frames] == [1, 2, 3]
    assert not replay.resync


async def test_replay_beyond_history_needs_resync(broker: tuple[Broker, Received]) -> None:
    """A position older than the kept history, or of another epoch, gets resync."""
    b, _ = broker
    for n in range(20):
        await b.to_all(Beep(n=n))
    head = await b.position("all")
    assert (await b.replay("all", Position(head.epoch, 1))).resync
    assert (await b.replay("all", Position("another", head.seq))).resync
    assert (await b.replay("all", Position(head.epoch, head.seq))).frames == []


async def test_unsubscribed_streams_are_not_delivered(broker: tuple[Broker, Received]) -> None:
    """After unsubscribe, the Redis broker no longer hands that stream's events to the hub
    (the in-process broker hands every stream over; its hub filters by local socket)."""
    b, received = broker
    await b.subscribe("user:2")
    await b.unsubscribe("user:2")
    await asyncio.sleep(50 * MS)
    await b.to_user(2, Beep(n=1))
    await asyncio.sleep(200 * MS)
    assert len(received.frames) == (1 if isinstance(b, MemoryBroker) else 0)


async def test_conflation_key_travels_with_the_event(broker: tuple[Broker, Received]) -> None:
    """The event's conflation key reaches the hub beside the frame."""

    class State(Event):
        event_type = "test_state"
        n: int

        def conflation_key(self) -> str:
            return "state:x"

    b, received = broker
    await b.subscribe("all")
    await asyncio.sleep(50 * MS)
    await b.to_all(State(n=1))
    await received.wait_for(1)
    assert received.frames[0][3] == "state:x"


async def test_history_age_is_judged_by_redis_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """An instance whose clock runs an hour ahead still replays fresh history: the Redis
    history's age is measured with Redis's clock, not each instance's."""
    if not await redis_available():
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}")
    prefix = f"pdtest:{uuid.uuid4().hex}"
    b = RedisBroker(REDIS_URL, prefix, history_size=5, history_ttl=60)
    try:
        start = await b.position("topic:t:clock")
        await b.to_topic("t:clock", Beep(n=1))
        await b.to_topic("t:clock", Beep(n=2))
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 3600)
        replay = await b.replay("topic:t:clock", start)
        monkeypatch.undo()
        assert not replay.resync
        assert [orjson.loads(f)["payload"]["n"] for f in replay.frames] == [1, 2]
    finally:
        client = aioredis.from_url(REDIS_URL)
        await client.delete(*[k async for k in client.scan_iter(match=f"{prefix}:*")])
        await client.aclose()
        await b.close()
