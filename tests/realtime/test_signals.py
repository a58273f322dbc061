"""realtime/signals.py and signals_redis.py: a signal reaches the handler of every instance."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from productdemo.realtime.broker import Broker, MemoryBroker
from productdemo.realtime.broker_redis import RedisBroker
from productdemo.realtime.history import MemoryHistory
from tests.conftest import skip_or_fail
from tests.realtime.test_broker import REDIS_URL, redis_available
from tests.support import MS


@pytest.fixture(params=["memory", "redis"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Broker, Broker, list[tuple[str, str]]]]:
    """Two brokers as two instances would have them (one, shared, for the in-process broker),
    each with a handler on ``stop`` recording what it receives."""
    got: list[tuple[str, str]] = []
    prefix = f"pdtest:{uuid.uuid4().hex}"
    if request.param == "memory":
        one = MemoryBroker(MemoryHistory(size=5, ttl=60))
        brokers: list[Broker] = [one, one]
    else:
        if not await redis_available():
            skip_or_fail(f"Redis is not reachable at {REDIS_URL}")
        brokers = [RedisBroker(REDIS_URL, prefix, history_size=5, history_ttl=60) for _ in range(2)]

    def recorder(name: str) -> Callable[[str], None]:
        return lambda data: got.append((name, data))

    for n, broker in enumerate(dict.fromkeys(brokers)):
        broker.signals.on_signal("stop", recorder(f"b{n}"))
        await broker.start()
    try:
        yield brokers[0], brokers[1], got
    finally:
        # Pub/sub keeps no keys: nothing to remove from the shared Redis.
        for broker in dict.fromkeys(brokers):
            await broker.close()


async def test_a_signal_reaches_every_instance_once(
    pair: tuple[Broker, Broker, list[tuple[str, str]]],
) -> None:
    """A signal sent through one instance reaches the handler of each instance, the sender's
    own included, once; signals on names nobody handles are dropped."""
    a, b, got = pair
    instances = len({id(a), id(b)})
    await asyncio.sleep(100 * MS)  # the Redis listeners subscribe as they start
    await a.signals.signal("other", "x")
    await b.signals.signal("stop", "m_1")
    async with asyncio.timeout(2000 * MS):
        while len(got) < instances:
            await asyncio.sleep(5 * MS)
    await asyncio.sleep(100 * MS)
    assert sorted(got) == [(f"b{n}", "m_1") for n in range(instances)]
