"""The Redis broker: events shared by every instance, history in Redis Streams.

Publishing runs one Lua script, atomically: take the stream's next ``seq`` (a hash per
stream holds its ``epoch`` and ``seq``), build the frame, append it to the stream's
history (``XADD`` with ``MAXLEN``; entry id ``<seq>-0``, so ``XRANGE`` by seq is a range
query), and ``PUBLISH`` it on the stream's channel. ``seq`` is therefore gap-free per
stream across instances, and the payload is encoded once per publish.

Each instance subscribes only to the channels its local sockets need (the hub calls
:meth:`subscribe` for the first local socket of a stream and :meth:`unsubscribe` for the
last). If Redis goes away, publishing raises :class:`BrokerUnavailable`, the listener
logs once, reconnects with backoff, resubscribes, and reports every subscribed stream to
the hub as possibly gapped, so their clients are told ``resync_required``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from productdemo.errors import DomainError
from productdemo.realtime.broker import Deliver, OnGap
from productdemo.realtime.events import Event
from productdemo.realtime.history import Position, Replay, new_epoch
from productdemo.realtime.publisher import ALL_STREAM, topic_stream, user_stream

logger = logging.getLogger(__name__)

_PUBLISH = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[6]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local frame = '{"type":"' .. ARGV[1] .. '","payload":' .. ARGV[2] .. ',"stream":"' .. ARGV[3]
  .. '","seq":' .. seq .. '}'
local maxlen = tonumber(ARGV[4])
if maxlen > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', maxlen, seq .. '-0', 't', ARGV[7], 'f', frame)
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
redis.call('PUBLISH', KEYS[3], seq .. '\\31' .. ARGV[8] .. '\\31' .. ARGV[7] .. '\\31' .. frame)
return seq
"""

_POSITION = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
return {epoch, redis.call('HGET', KEYS[1], 'seq') or '0'}
"""

SEPARATOR = b"\x1f"


class BrokerUnavailable(DomainError):
    """The broker cannot be reached; the event was not published."""

    code = "unavailable"
    status = 503


class RedisBroker:
    shared = True

    def __init__(self, url: str, prefix: str, history_size: int, history_ttl: float) -> None:
        self._redis = aioredis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=10
        )
        self._prefix = prefix
        self._size = history_size
        self._ttl_ms = int(history_ttl * 1000) or 1
        self._publish = self._redis.register_script(_PUBLISH)
        self._position = self._redis.register_script(_POSITION)
        self._deliver: Deliver | None = None
        self._on_gap: OnGap | None = None
        self._channels: set[bytes] = set()
        self._pubsub: aioredis.client.PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.healthy = True
        self.lag = 0.0

    # --- keys -------------------------------------------------------------------------

    def _meta(self, stream: str) -> str:
        return f"{self._prefix}:meta:{stream}"

    def _history(self, stream: str) -> str:
        return f"{self._prefix}:hist:{stream}"

    def _channel(self, stream: str) -> str:
        return f"{self._prefix}:ch:{stream}"

    # --- lifecycle --------------------------------------------------------------------

    def attach(self, deliver: Deliver, on_gap: OnGap | None = None) -> None:
        self._deliver = deliver
        self._on_gap = on_gap

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._listener = asyncio.get_running_loop().create_task(self._listen(), name="redis-broker")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._redis.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    # --- subscriptions ----------------------------------------------------------------

    async def subscribe(self, stream: str) -> None:
        channel = self._channel(stream).encode()
        async with self._lock:
            if channel in self._channels:
                return
            self._channels.add(channel)
            if self._pubsub is not None and self.healthy:
                try:
                    await self._pubsub.subscribe(channel)
                except (RedisError, OSError):
                    logger.warning("could not subscribe to %s; will retry on reconnect", stream)

    async def unsubscribe(self, stream: str) -> None:
        channel = self._channel(stream).encode()
        async with self._lock:
            if channel not in self._channels:
                return
            self._channels.discard(channel)
            if self._pubsub is not None and self.healthy:
                try:
                    await self._pubsub.unsubscribe(channel)
                except (RedisError, OSError):
                    pass

    async def _listen(self) -> None:
        assert self._pubsub is not None
        prefix_len = len(self._prefix) + 4
        while True:
            try:
                if not self._channels:
                    await asyncio.sleep(0.05)
                    continue
                if not self._pubsub.subscribed:
                    # Channels wanted but none held (a subscribe failed): take them again.
                    async with self._lock:
                        await self._pubsub.subscribe(*self._channels)
                message = await self._pubsub.get_message(timeout=1.0)
                if message is None or message["type"] != "message":
                    continue
                stream = message["channel"][prefix_len:].decode()
                seq, key, published_ms, frame = message["data"].split(SEPARATOR, 3)
                self.lag = max(0.0, time.time() - int(published_ms) / 1000)
                if self._deliver is not None:
                    self._deliver(stream, int(seq), frame, key.decode() or None)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self.healthy:
                    logger.error("Redis broker connection lost (%s); reconnecting", exc)
                    self.healthy = False
                await self._reconnect_with_backoff()

    async def _reconnect_with_backoff(self) -> None:
        delay = 0.1
        while True:
            await asyncio.sleep(delay + random.uniform(0, delay))
            delay = min(delay * 2, 5.0)
            if await self._reconnect():
                return

    async def _reconnect(self) -> bool:
        """A fresh pub/sub connection holding every wanted channel; True once Redis answers."""
        assert self._pubsub is not None
        try:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            async with self._lock:
                channels = list(self._channels)
                if channels:
                    await self._pubsub.subscribe(*channels)
            await self._redis.ping()
        except (RedisError, OSError):
            return False
        self.healthy = True
        logger.warning("Redis broker reconnected; %d streams may have gaps", len(channels))
        if self._on_gap is not None:
            prefix_len = len(self._prefix) + 4
            try:
                await self._on_gap([c[prefix_len:].decode() for c in channels])
            except DomainError as exc:
                # Redis went away again; the listener notices and the next reconnect reports again.
                logger.warning("could not tell clients to resync: %s", exc)
        return True

    # --- publishing -------------------------------------------------------------------

    async def publish(self, stream: str, event: Event) -> int:
        """Publish ``event`` on ``stream``; returns its seq.

        Raises:
            BrokerUnavailable: Redis could not be reached; nothing was published.
        """
        key = event.conflation_key() or ""
        try:
            seq = await self._publish(
                keys=[self._meta(stream), self._history(stream), self._channel(stream)],
                args=[
                    event.event_type,
                    event.payload_json(),
                    stream,
                    self._size,
                    self._ttl_ms,
                    new_epoch(),
                    int(time.time() * 1000),
                    key,
                ],
            )
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"the event broker is unavailable ({type(exc).__name__})") from None
        return int(seq)

    async def to_user(self, user_id: int, event: Event) -> None:
        await self.publish(user_stream(user_id), event)

    async def to_topic(self, topic: str, event: Event) -> None:
        await self.publish(topic_stream(topic), event)

    async def to_all(self, event: Event) -> None:
        await self.publish(ALL_STREAM, event)

    # --- history ----------------------------------------------------------------------

    async def position(self, stream: str) -> Position:
        try:
            epoch, seq = await self._position(keys=[self._meta(stream)], args=[new_epoch()])
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"the event broker is unavailable ({type(exc).__name__})") from None
        return Position(epoch.decode(), int(seq))

    async def replay(self, stream: str, since: Position) -> Replay:
        current = await self.position(stream)
        if since.epoch != current.epoch or since.seq > current.seq:
            return Replay([], current, resync=True)
        if since.seq == current.seq:
            return Replay([], current)
        try:
            raw = await self._redis.xrange(self._history(stream), min=f"{since.seq + 1}-0", max="+")
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"the event broker is unavailable ({type(exc).__name__})") from None
        entries = _entries(raw)
        cutoff = time.time() * 1000 - self._ttl_ms
        if not entries or entries[0][0] != since.seq + 1 or entries[0][1] < cutoff:
            return Replay([], current, resync=True)
        return Replay([frame for seq, _, frame in entries if seq <= current.seq], current)


def _entries(raw: object) -> list[tuple[int, int, bytes]]:
    """XRANGE results as (seq, published ms, frame)."""
    out = []
    for entry_id, fields in raw:  # type: ignore[attr-defined]
        out.append((int(entry_id.split(b"-")[0]), int(fields[b"t"]), bytes(fields[b"f"])))
    return out
