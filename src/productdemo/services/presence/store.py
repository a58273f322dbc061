"""Where instances put their presence parts: in this process, or in Redis with a TTL.

In Redis each instance's part is one key with a TTL, refreshed by a heartbeat; an
instance that dies (even by SIGKILL) stops refreshing and its key expires, so its users
leave. One instance at a time *leads* (a key with a shorter TTL, renewed every tick): it
merges the parts and publishes the diffs, so every subscriber sees one version sequence.
After a Redis restart the keys are simply gone: live instances write their parts again
and the leader's merge contains nothing stale.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis

from productdemo.services.presence.model import Part, part_from_json, part_to_json

# Take the lead if nobody holds it, or renew it if we do; 1 when we lead.
_LEAD = """
local v = redis.call('GET', KEYS[1])
if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""


class PresenceStore(Protocol):
    #: True when parts can vanish by expiring (so the leader must merge on a timer too).
    expires: bool

    async def write_part(self, instance: str, part: Part, changed: bool) -> None:
        """Store (or refresh) ``instance``'s part; ``changed`` tells the leader to merge again."""
        ...

    async def changes(self) -> int:
        """A counter that moves whenever some part changed."""
        ...

    async def read_parts(self) -> dict[str, Part]:
        """Every live instance's part."""
        ...

    async def lead(self, instance: str) -> bool:
        """Take or renew the lead; True when ``instance`` leads."""
        ...

    async def load_snapshot(self) -> dict[str, Any] | None: ...

    async def save_snapshot(self, snapshot: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


class MemoryPresenceStore:
    """One instance: it always leads, and its part is the only one."""

    expires = False

    def __init__(self) -> None:
        self._parts: dict[str, Part] = {}
        self._changes = 0
        self._snapshot: dict[str, Any] | None = None

    async def write_part(self, instance: str, part: Part, changed: bool) -> None:
        self._parts[instance] = part
        self._changes += changed

    async def changes(self) -> int:
        return self._changes

    async def read_parts(self) -> dict[str, Part]:
        return dict(self._parts)

    async def lead(self, instance: str) -> bool:
        return True

    async def load_snapshot(self) -> dict[str, Any] | None:
        return self._snapshot

    async def save_snapshot(self, snapshot: dict[str, Any]) -> None:
        self._snapshot = snapshot

    async def close(self) -> None:
        return None


class RedisPresenceStore:
    expires = True

    def __init__(self, url: str, prefix: str, ttl: float) -> None:
        self._redis: aioredis.Redis = aioredis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=5
        )
        self._key = f"{prefix}:presence"
        self._ttl_ms = int(ttl * 1000)
        # The lead expires sooner than a part, so a dead leader's successor is in place
        # before the dead leader's users are due to leave.
        self._lead_ms = max(self._ttl_ms // 2, 500)

    async def write_part(self, instance: str, part: Part, changed: bool) -> None:
        expires = int(time.time() * 1000) + self._ttl_ms
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{self._key}:part:{instance}", orjson.dumps(part_to_json(part)), px=self._ttl_ms)
            pipe.zadd(f"{self._key}:instances", {instance: expires})
            if changed:
                pipe.incr(f"{self._key}:changes")
            await pipe.execute()

    async def changes(self) -> int:
        value = await self._redis.get(f"{self._key}:changes")
        return int(value or 0)

    async def read_parts(self) -> dict[str, Part]:
        index = f"{self._key}:instances"
        await self._redis.zremrangebyscore(index, 0, int(time.time() * 1000))
        names = [n.decode() for n in await self._redis.zrange(index, 0, -1) if isinstance(n, bytes)]
        if not names:
            return {}
        values = await self._redis.mget([f"{self._key}:part:{n}" for n in names])
        return {n: part_from_json(orjson.loads(v)) for n, v in zip(names, values, strict=True) if v}

    async def lead(self, instance: str) -> bool:
        won = await self._redis.eval(_LEAD, 1, f"{self._key}:leader", instance, self._lead_ms)
        return bool(won)

    async def load_snapshot(self) -> dict[str, Any] | None:
        value = await self._redis.get(f"{self._key}:snapshot")
        return None if value is None else dict(orjson.loads(value))

    async def save_snapshot(self, snapshot: dict[str, Any]) -> None:
        await self._redis.set(f"{self._key}:snapshot", orjson.dumps(snapshot), px=self._ttl_ms * 4)

    async def close(self) -> None:
        await self._redis.aclose()
