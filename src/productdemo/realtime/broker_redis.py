"""The Redis broker: events shared by every instance, history in Redis Streams.

Publishing runs one Lua script, atomically: take the stream's next ``seq`` (a hash per
stream holds its ``epoch`` and ``seq``), build the frame, append it to the stream's
history (``XADD`` with ``MAXLEN``; entry id ``<seq>-0``, so ``XRANGE`` by seq is a range
query), and ``PUBLISH`` it on the stream's channel. ``seq`` is therefore gap-free per
stream across instances, and the payload is encoded once per publish.

Each instance subscribes only to the channels its local sockets need, through
:class:`RedisSubscriber` (``redis_subscriber.py``): it counts sockets per stream, confirms
each subscription before a position is read, and after a Redis outage resubscribes and
reports the streams that may have gaps, so their clients are told ``resync_required``.
Publishing during an outage raises :class:`BrokerUnavailable`. The entry time of history
is Redis's ``TIME``, the one clock every instance shares. See docs/guarantees.md.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from productdemo.realtime.broker import Deliver, OnGap
from productdemo.realtime.events import Event
from productdemo.realtime.history import Position, Replay, new_epoch
from productdemo.realtime.publisher import ALL_STREAM, topic_stream, user_stream
from productdemo.realtime.redis_subscriber import BrokerUnavailable, RedisSubscriber
from productdemo.realtime.signals_redis import RedisSignals

__all__ = ["BrokerUnavailable", "RedisBroker"]

_PUBLISH = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[6]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local frame = '{"type":"' .. ARGV[1] .. '","payload":' .. ARGV[2] .. ',"stream":"' .. ARGV[3]
  .. '","seq":' .. seq .. '}'
local now = redis.call('TIME')
local ms = now[1] .. string.format('%03d', math.floor(tonumber(now[2]) / 1000))
local maxlen = tonumber(ARGV[4])
if maxlen > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', maxlen, seq .. '-0', 't', ms, 'f', frame)
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
redis.call('PUBLISH', KEYS[3], seq .. '\\31' .. ARGV[7] .. '\\31' .. ms .. '\\31' .. frame)
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
        self.subscriber = RedisSubscriber(self._redis, prefix)
        self.signals = RedisSignals(self._redis, prefix)

    # --- keys -------------------------------------------------------------------------

    def _meta(self, stream: str) -> str:
        return f"{self._prefix}:meta:{stream}"

    def _history(self, stream: str) -> str:
        return f"{self._prefix}:hist:{stream}"

    def _channel(self, stream: str) -> str:
        return self.subscriber.channel(stream).decode()

    # --- lifecycle --------------------------------------------------------------------

    def attach(self, deliver: Deliver, on_gap: OnGap | None = None) -> None:
        self.subscriber.attach(deliver, on_gap)

    async def start(self) -> None:
        await self.subscriber.start()
        await self.signals.start()

    async def close(self) -> None:
        await self.signals.close()
        await self.subscriber.close()
        await self._redis.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    # --- subscriptions ----------------------------------------------------------------

    async def subscribe(self, stream: str) -> None:
        """See :meth:`RedisSubscriber.subscribe`: returns once Redis confirmed the channel."""
        await self.subscriber.subscribe(stream)

    async def unsubscribe(self, stream: str) -> None:
        await self.subscriber.unsubscribe(stream)

    @property
    def healthy(self) -> bool:
        return self.subscriber.healthy

    @property
    def lag(self) -> float:
        return self.subscriber.lag

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
            # History age is judged by Redis's clock, the one that stamped the entries.
            pipe = self._redis.pipeline(transaction=False)
            pipe.time()
            pipe.xrange(self._history(stream), min=f"{since.seq + 1}-0", max="+")
            (seconds, micros), raw = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"the event broker is unavailable ({type(exc).__name__})") from None
        entries = _entries(raw)
        cutoff = seconds * 1000 + micros // 1000 - self._ttl_ms
        if not entries or entries[0][0] != since.seq + 1 or entries[0][1] < cutoff:
            return Replay([], current, resync=True)
        return Replay([frame for seq, _, frame in entries if seq <= current.seq], current)


def _entries(raw: object) -> list[tuple[int, int, bytes]]:
    """XRANGE results as (seq, published ms, frame)."""
    out = []
    for entry_id, fields in raw:  # type: ignore[attr-defined]
        out.append((int(entry_id.split(b"-")[0]), int(fields[b"t"]), bytes(fields[b"f"])))
    return out
