"""Publisher: the one thing services see of the realtime layer.

A service addresses people and topics, never sockets::

    await events.to_user(user_id, DocumentStatusUpdate(...))

The broker (in-process or Redis) implements it; a process with no sockets (a worker)
can publish through the Redis broker just the same.
"""

from __future__ import annotations

from typing import Protocol

from productdemo.realtime.events import Event


def user_stream(user_id: int) -> str:
    return f"user:{user_id}"


def topic_stream(topic: str) -> str:
    return f"topic:{topic}"


ALL_STREAM = "all"


class Publisher(Protocol):
    async def to_user(self, user_id: int, event: Event) -> None:
        """Send ``event`` to every socket of ``user_id``, on stream ``user:<id>``."""
        ...

    async def to_topic(self, topic: str, event: Event) -> None:
        """Send ``event`` to every socket subscribed to ``topic``, on stream ``topic:<name>``."""
        ...

    async def to_all(self, event: Event) -> None:
        """Send ``event`` to every connected socket, on stream ``all``."""
        ...
