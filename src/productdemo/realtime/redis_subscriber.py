"""Redis pub/sub for one instance: the channels its local sockets need, and one listener.

The hub calls :meth:`RedisSubscriber.subscribe` for every socket that joins a stream and
:meth:`RedisSubscriber.unsubscribe` for every one that leaves. The subscriber counts them
and, under one lock, makes the pub/sub connection hold exactly the channels counted, so
no interleaving of joins and leaves (each awaiting Redis) can drop a channel a socket
still needs. ``subscribe`` returns once Redis has confirmed the channel: a position read
afterwards has every later event delivered live.

One listener task reads the connection. Whatever error stops it, it marks the broker
unhealthy, reconnects with backoff, subscribes every counted channel again, reports
healthy (still under the lock) and tells the hub those streams may have gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from productdemo.errors import DomainError
from productdemo.realtime.broker import Deliver, OnGap

logger = logging.getLogger(__name__)

SEPARATOR = b"\x1f"
# How long a subscribe waits for Redis to confirm the channel before giving up.
SUBSCRIBE_TIMEOUT = 5.0


class BrokerUnavailable(DomainError):
    """The broker cannot be reached; the event was not published."""

    code = "unavailable"
    status = 503


class RedisSubscriber:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._prefix_len = len(prefix) + 4
        self._deliver: Deliver | None = None
        self._on_gap: OnGap | None = None
        # Local sockets per channel; channels whose SUBSCRIBE went out on the current pub/sub
        # connection; per channel, an event set once Redis confirmed it on that connection;
        # channels whose held state may differ from the wanted one.
        self._wanted: dict[bytes, int] = {}
        self._held: set[bytes] = set()
        self._active: dict[bytes, asyncio.Event] = {}
        self._pending: set[bytes] = set()
        # SUBSCRIBEs sent per channel whose confirmation has not been read yet.
        self._inflight: dict[bytes, int] = {}
        self._has_channels = asyncio.Event()
        self._pubsub: aioredis.client.PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.healthy = True
        self.lag = 0.0

    def channel(self, stream: str) -> bytes:
        return f"{self._prefix}:ch:{stream}".encode()

    def attach(self, deliver: Deliver, on_gap: OnGap | None = None) -> None:
        self._deliver = deliver
        self._on_gap = on_gap

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub()
        self._listener = asyncio.get_running_loop().create_task(self._listen(), name="redis-broker")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def subscribe(self, stream: str) -> None:
        """Count one more local socket on ``stream``; return once Redis confirms the channel.

        After this returns, every event published on ``stream`` reaches this instance, so
        a position read afterwards leaves no event unaccounted for (the ``hello`` gap).

        Raises:
            BrokerUnavailable: Redis could not be reached or did not confirm in time.
        """
        channel = self.channel(stream)
        # Counted before any await: every subscribe is matched by exactly one unsubscribe,
        # whatever order their Redis commands end up in (see _sync).
        self._wanted[channel] = self._wanted.get(channel, 0) + 1
        active = self._active.get(channel)
        if active is None:
            active = self._active[channel] = asyncio.Event()
        if active.is_set():
            return
        self._pending.add(channel)
        try:
            await self._sync()
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                await active.wait()
        except (RedisError, OSError, TimeoutError) as exc:
            raise BrokerUnavailable(f"the event broker is unavailable ({type(exc).__name__})") from None

    async def unsubscribe(self, stream: str) -> None:
        """Count one local socket less on ``stream``; leave the channel when none is left."""
        channel = self.channel(stream)
        count = self._wanted.get(channel, 0) - 1
        if count > 0:
            self._wanted[channel] = count
            return
        self._wanted.pop(channel, None)
        self._pending.add(channel)
        try:
            await self._sync()
        except Exception as exc:
            # The channel stays pending: the listener retries, or the next reconnect drops it.
            logger.debug("could not leave %s now: %r", stream, exc)

    async def _sync(self) -> None:
        """Make the pub/sub connection hold exactly the wanted channels among those pending.

        Decided under the lock from the counts at that moment, so a subscribe and an
        unsubscribe of one channel racing each other leave it held iff it is wanted.
        """
        async with self._lock:
            await self._sync_locked()

    async def _sync_locked(self) -> None:
        pubsub = self._pubsub
        if pubsub is None or not self._pending:
            return
        pending, self._pending = self._pending, set()
        drop = [c for c in pending if c in self._held and c not in self._wanted]
        add = [c for c in pending if c not in self._held and c in self._wanted]
        for channel in pending:
            if channel not in self._wanted:
                self._active.pop(channel, None)
        try:
            if drop:
                await pubsub.unsubscribe(*drop)
                self._held.difference_update(drop)
            if add:
                # Recorded before sending: the listener may read the confirmation before
                # the send returns.
                self._held.update(add)
                for channel in add:
                    self._inflight[channel] = self._inflight.get(channel, 0) + 1
                try:
                    await pubsub.subscribe(*add)
                except BaseException:
                    self._held.difference_update(add)
                    for channel in add:
                        self._inflight[channel] -= 1
                    raise
                self._has_channels.set()
        except BaseException:
            self._pending.update(pending)  # left for the listener (or the next reconnect)
            raise

    async def _listen(self) -> None:
        prefix_len = self._prefix_len
        while True:
            try:
                if self._pending:
                    # A subscribe or unsubscribe failed or was cancelled: converge again.
                    await self._sync()
                if not self._held:
                    self._has_channels.clear()
                # Set once a SUBSCRIBE went out, so the pub/sub connection exists.
                if not self._has_channels.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(1.0):
                            await self._has_channels.wait()
                    continue
                assert self._pubsub is not None
                message = await self._pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                kind = message["type"]
                if kind == "message":
                    stream = message["channel"][prefix_len:].decode()
                    seq, key, published_ms, frame = message["data"].split(SEPARATOR, 3)
                    # Redis's clock at publish against ours: clock offset shows up here.
                    self.lag = max(0.0, time.time() - int(published_ms) / 1000)
                    if self._deliver is not None:
                        self._deliver(stream, int(seq), frame, key.decode() or None)
                elif kind == "subscribe":
                    await self._confirmed(message["channel"], prefix_len)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Whatever broke (Redis, the client library, a malformed message), the
                # listener must not die while the instance claims to be healthy.
                if self.healthy:
                    logger.error("Redis broker connection lost (%r); reconnecting", exc)
                self._lost()
                await self._reconnect_with_backoff()

    async def _confirmed(self, channel: bytes, prefix_len: int) -> None:
        """Redis confirmed a SUBSCRIBE: the channel is active once the last one sent is."""
        left = self._inflight.get(channel, 0) - 1
        if left > 0:
            self._inflight[channel] = left
            return
        self._inflight.pop(channel, None)
        if left < 0:
            # A confirmation nobody asked for: the client library reconnected this pub/sub
            # connection by itself, and events published meanwhile were not received.
            if self._on_gap is not None and channel in self._wanted:
                await self._on_gap([channel[prefix_len:].decode()])
            return
        active = self._active.get(channel)
        if active is not None and channel in self._held:
            active.set()

    def _lost(self) -> None:
        self.healthy = False
        for active in self._active.values():
            active.clear()

    async def _reconnect_with_backoff(self) -> None:
        delay = 0.1
        while True:
            await asyncio.sleep(delay + random.uniform(0, delay))
            delay = min(delay * 2, 5.0)
            if await self._reconnect():
                return

    async def _reconnect(self) -> bool:
        """A fresh pub/sub connection holding every wanted channel; True once Redis answers."""
        async with self._lock:
            if self._pubsub is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = self._redis.pubsub()
            self._has_channels.clear()
            self._held = set()
            self._inflight = {}
            self._pending = set(self._wanted)
            try:
                # Pooled connections to the Redis that went away would fail the first
                # command each (the positions on_gap reads below): start them afresh.
                await self._redis.connection_pool.disconnect(inuse_connections=False)
                await self._redis.ping()
                await self._sync_locked()
            except Exception as exc:
                # Any failure is one more attempt; only cancellation ends the listener.
                logger.debug("Redis broker reconnect failed: %r", exc)
                return False
            # Still under the lock: a subscribe that follows sees a healthy broker whose
            # connection already holds every channel wanted so far.
            self.healthy = True
            streams = [c[self._prefix_len :].decode() for c in self._wanted]
        logger.warning("Redis broker reconnected; %d streams may have gaps", len(streams))
        if self._on_gap is not None:
            try:
                await self._on_gap(streams)
            except DomainError as exc:
                # Redis went away again; the listener notices and the next reconnect reports again.
                logger.warning("could not tell clients to resync: %s", exc)
            except Exception:
                logger.exception("could not tell clients to resync")
        return True
