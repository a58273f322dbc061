"""Hub and Redis broker together: every local socket's streams stay subscribed, whatever
interleaves with what (real Redis; a gate or a delay opens each race window)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from productdemo.realtime.broker_redis import BrokerUnavailable, RedisBroker
from productdemo.realtime.events import Event
from tests.conftest import skip_or_fail
from tests.realtime.test_broker import REDIS_URL, redis_available
from tests.scaleout.cluster import PrivateRedis
from tests.support import MS, LiveServer, StartServer, close_of, recv_json, recv_type


class Ping(Event):
    """A test event."""

    event_type = "test_ping"
    n: int


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of the test's own on the shared Redis; its keys are deleted afterwards."""
    if not await redis_available():
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}")
    prefix = f"pdtest:{uuid.uuid4().hex}"
    yield prefix
    client = aioredis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        skip_or_fail("redis-server and redis-cli are needed to start a private Redis")
    server = PrivateRedis(tmp_path / "redis")
    server.root.mkdir()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def broker_of(server: LiveServer) -> RedisBroker:
    broker = server.services.broker
    assert isinstance(broker, RedisBroker)
    return broker


async def receives(ws: Any, n: int, timeout: float = 2000 * MS) -> bool:
    """True if the test event ``n`` reaches ``ws`` within ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                frame = await recv_json(ws, timeout)
                if frame["type"] == "test_ping" and frame["payload"]["n"] == n:
                    return True
    except TimeoutError:
        return False


async def wait_until(condition: Callable[[], bool], timeout: float = 5000 * MS) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_socket_registering_while_the_last_one_leaves_stays_subscribed(
    start_server: StartServer, redis_prefix: str
) -> None:
    """A user's new socket that registers while the hub is still unsubscribing the streams of
    that user's last socket keeps receiving that user's events."""
    live = await start_server(broker={"url": REDIS_URL, "prefix": redis_prefix})
    broker, hub = broker_of(live), live.services.hub
    # The window opens when the hub leaves ``all`` before the user's stream (the order of a
    # set): pick a user for whom it does, so the interleaving is the same on every run.
    for _ in range(32):
        user_id, cookie = await live.user_session()
        first = await live.connect(cookie).__aenter__()
        await recv_type(first, "hello")
        (conn,) = hub.registry.by_user[user_id]
        if list(conn.streams)[0] == "all":
            break
        await first.__aexit__(None, None, None)
    else:
        pytest.fail("no user whose streams are left in the order that opens the window")
    async with broker.subscriber._lock:  # the gate: the broker's Redis commands wait here
        await first.close()
        await wait_until(lambda: user_id not in hub.registry.by_user)
        second_connect = asyncio.ensure_future(live.connect(cookie).__aenter__())
        await wait_until(lambda: user_id in hub.registry.by_user)
    second = await second_connect
    try:
        await recv_type(second, "hello")
        await live.services.events.to_user(user_id, Ping(n=1))
        assert await receives(second, 1)
    finally:
        await second.close()


async def test_hello_positions_are_taken_after_redis_confirmed_the_subscription(
    start_server: StartServer, redis_prefix: str
) -> None:
    """An event published right after ``hello`` reaches the socket even when Redis takes
    its time to act on the SUBSCRIBE: the positions are read only once it has."""
    live = await start_server(broker={"url": REDIS_URL, "prefix": redis_prefix})
    broker = broker_of(live)
    assert broker.subscriber._pubsub is not None
    pubsub = broker.subscriber._pubsub
    subscribe = pubsub.subscribe
    later: list[asyncio.Task[None]] = []

    async def subscribe_late(*channels: Any) -> None:
        # The command is on its way; Redis acts on it 300 ms later.
        async def send() -> None:
            await asyncio.sleep(300 * MS)
            await subscribe(*channels)

        later.append(asyncio.ensure_future(send()))

    pubsub.subscribe = subscribe_late  # type: ignore[method-assign,assignment]
    user_id, cookie = await live.user_session()
    async with live.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await live.services.events.to_user(user_id, Ping(n=1))
        assert await receives(ws, 1)
    await asyncio.gather(*later)


async def test_a_socket_registering_while_the_broker_reconnects_is_subscribed(
    start_server: StartServer, private_redis: PrivateRedis
) -> None:
    """A socket that registers while the broker is reconnecting to Redis receives its events
    once the broker is back (its channel is not left out of the new connection)."""
    live = await start_server(broker={"url": private_redis.url, "prefix": "pdtest"})
    broker = broker_of(live)
    _, cookie = await live.user_session()
    async with live.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await private_redis.stop()
        await wait_until(lambda: not broker.healthy)
        gate, entered = asyncio.Event(), asyncio.Event()
        ping = broker._redis.ping

        async def gated_ping(**kwargs: Any) -> Any:
            entered.set()
            await gate.wait()
            return await ping(**kwargs)

        broker._redis.ping = gated_ping  # type: ignore[method-assign]
        await private_redis.start()
        await asyncio.wait_for(entered.wait(), 10_000 * MS)
        user_id, other = await live.user_session()
        joining = asyncio.ensure_future(_hello_of(live, other))
        await wait_until(lambda: user_id in live.services.hub.registry.by_user)
        # Give the registration every chance to finish during the reconnect before it ends.
        await asyncio.wait([joining], timeout=300 * MS)
        gate.set()
        second = await joining
        try:
            await wait_until(lambda: broker.healthy)
            await live.services.events.to_user(user_id, Ping(n=2))
            assert await receives(second, 2)
        finally:
            await second.close()


async def _hello_of(live: LiveServer, cookie: str) -> Any:
    ws = await live.connect(cookie).__aenter__()
    await recv_type(ws, "hello", 10_000 * MS)
    return ws


async def test_the_listener_survives_an_unexpected_error(
    start_server: StartServer, redis_prefix: str
) -> None:
    """An error of any kind in the broker's listener is a reconnect, not the end of delivery."""
    live = await start_server(broker={"url": REDIS_URL, "prefix": redis_prefix})
    broker = broker_of(live)
    assert broker.subscriber._pubsub is not None
    pubsub = broker.subscriber._pubsub
    get_message = pubsub.get_message
    failed = asyncio.Event()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        if not failed.is_set():
            failed.set()
            raise ValueError("a malformed message")
        return await get_message(*args, **kwargs)

    user_id, cookie = await live.user_session()
    async with live.connect(cookie) as ws:
        await recv_type(ws, "hello")
        pubsub.get_message = broken  # type: ignore[method-assign]
        await asyncio.wait_for(failed.wait(), 5000 * MS)
        await wait_until(lambda: broker.healthy, 10_000 * MS)
        await live.services.events.to_user(user_id, Ping(n=3))
        assert await receives(ws, 3, 5000 * MS)


async def test_a_gap_report_goes_on_past_a_stream_without_position(
    start_server: StartServer,
) -> None:
    """When a broker gap is reported and one stream's position cannot be read, the other
    streams still get resync_required, and that stream's sockets reconnect (1013)."""
    live = await start_server()
    hub = live.services.hub
    first_id, first = await live.user_session()
    second_id, second = await live.user_session()
    position = hub.broker.position

    async def failing(stream: str) -> Any:
        if stream == f"user:{first_id}":
            raise BrokerUnavailable("the event broker is unavailable (ConnectionError)")
        return await position(stream)

    async with live.connect(first) as ws1, live.connect(second) as ws2:
        await recv_type(ws1, "hello")
        await recv_type(ws2, "hello")
        hub.broker.position = failing
        await hub.on_gap([f"user:{first_id}", f"user:{second_id}"])
        frame = await recv_type(ws2, "resync_required")
        assert frame["payload"]["stream"] == f"user:{second_id}"
        assert await close_of(ws1) == (1013, "broker reconnected, reconnect")


async def test_a_registration_that_fails_unexpectedly_leaves_nothing_behind(
    start_server: StartServer,
) -> None:
    """A socket whose registration fails with an unexpected error is closed (1013) and leaves
    no entry in the hub's registry (nor a stream subscription)."""
    live = await start_server()
    hub = live.services.hub
    user_id, cookie = await live.user_session()
    position = hub.broker.position

    async def broken(_stream: str) -> Any:
        raise RuntimeError("injected")

    hub.broker.position = broken
    try:
        async with live.connect(cookie) as ws:
            assert await close_of(ws) == (1013, "internal error, try again later")
    finally:
        hub.broker.position = position
    await wait_until(lambda: len(hub.registry) == 0)
    assert user_id not in hub.registry.by_user
    assert f"user:{user_id}" not in hub.registry.by_stream
