"""Signals between instances over Redis pub/sub: one channel per name, one listener task.

The listener holds its own pub/sub connection subscribed to every registered name. Whatever
breaks it, it reconnects with jittered backoff up to 5 s; signals sent meanwhile are lost,
which :mod:`signals` allows (every signal has a durable fallback in the database).
"""

from __future__ import annotations

import asyncio
import logging
import random

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from productdemo.realtime.redis_subscriber import BrokerUnavailable
from productdemo.realtime.signals import Handler, dispatch

logger = logging.getLogger(__name__)

MAX_BACKOFF = 5.0


class RedisSignals:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:sig:"
        self._handlers: dict[str, Handler] = {}
        self._listener: asyncio.Task[None] | None = None

    def on_signal(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    async def signal(self, name: str, data: str) -> None:
        try:
            await self._redis.publish(self._prefix + name, data)
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"the event broker is unavailable ({type(exc).__name__})") from None

    async def start(self) -> None:
        if self._handlers:
            self._listener = asyncio.get_running_loop().create_task(self._listen(), name="redis-signals")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)

    async def _listen(self) -> None:
        backoff = 0.1
        start = len(self._prefix)
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*(self._prefix + name for name in self._handlers))
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        name = message["channel"][start:].decode()
                        dispatch(self._handlers, name, message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Whatever broke (Redis, the client library), the listener must not die.
                logger.warning("signals: Redis connection lost (%r); reconnecting", exc)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(random.uniform(0, backoff))
            backoff = min(MAX_BACKOFF, backoff * 2)
