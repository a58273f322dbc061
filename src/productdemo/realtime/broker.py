"""Broker: moves published events to the hub of every instance, with positions and history.

The in-process broker below serves one instance; ``broker_redis.py`` implements the same
:class:`Broker` over Redis for several. Either way the event's payload is encoded once
per publish and the frame (with its stream and seq) is built once, then handed to the
hub's ``deliver`` callback, which writes the same bytes to every local socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from productdemo.realtime.events import Event
from productdemo.realtime.history import HistoryStore, MemoryHistory, Position, Replay
from productdemo.realtime.protocol import event_frame
from productdemo.realtime.publisher import ALL_STREAM, Publisher, topic_stream, user_stream
from productdemo.realtime.signals import MemorySignals, Signals

#: deliver(stream, seq, frame, conflation_key): called on each instance for every event
#: of a stream that instance has subscribed to.
Deliver = Callable[[str, int, bytes, str | None], None]
#: on_gap(streams): delivery on these streams may have missed events (a broker outage).
OnGap = Callable[[list[str]], Awaitable[None]]


class Broker(Publisher, HistoryStore, Protocol):
    def attach(self, deliver: Deliver, on_gap: OnGap | None = None) -> None:
        """Register the hub's callbacks (once, at start-up)."""
        ...

    async def ping(self) -> bool:
        """True when the broker is reachable (readiness)."""
        ...

    @property
    def shared(self) -> bool:
        """True when events published here also reach other instances."""
        ...

    @property
    def signals(self) -> Signals:
        """Signals between instances through this broker (no socket sees them)."""
        ...

    @property
    def healthy(self) -> bool:
        """False while the broker is known to be unreachable."""
        ...

    @property
    def lag(self) -> float:
        """Seconds between publishing and receiving the last event from the broker."""
        ...

    async def subscribe(self, stream: str) -> None:
        """One more local socket needs ``stream``; returns once this instance receives it.

        Called once per socket that joins; the broker receives a stream while more
        sockets joined it than left it.
        """
        ...

    async def unsubscribe(self, stream: str) -> None:
        """One local socket left ``stream`` (called once per socket that leaves)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


PRUNE_INTERVAL = 30.0


class MemoryBroker:
    """Everything in one process: history in memory, delivery by a direct call."""

    def __init__(self, history: MemoryHistory) -> None:
        self.history = history
        self.signals = MemorySignals()
        self._deliver: Deliver | None = None
        self._pruner: asyncio.Task[None] | None = None

    def attach(self, deliver: Deliver, on_gap: OnGap | None = None) -> None:
        # One process cannot lose events between publisher and hub: no gaps to report.
        self._deliver = deliver

    async def ping(self) -> bool:
        return True

    shared = False
    healthy = True
    lag = 0.0

    async def start(self) -> None:
        self._pruner = asyncio.get_running_loop().create_task(self._prune(), name="history-pruner")

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            await asyncio.gather(self._pruner, return_exceptions=True)

    async def _prune(self) -> None:
        # Streams nobody reads are never touched again: drop their expired frames here.
        while True:
            await asyncio.sleep(PRUNE_INTERVAL)
            self.history.prune()

    async def subscribe(self, stream: str) -> None:
        # One process: every stream is already "received"; the hub filters by local sockets.
        return None

    async def unsubscribe(self, stream: str) -> None:
        return None

    def publish_now(self, stream: str, event: Event) -> None:
        """Publish synchronously (the in-process broker never waits)."""
        payload = event.payload_json()
        kind = event.event_type
        seq, frame = self.history.append(stream, lambda seq: event_frame(kind, payload, stream, seq))
        if self._deliver is not None:
            self._deliver(stream, seq, frame, event.conflation_key())

    async def to_user(self, user_id: int, event: Event) -> None:
        self.publish_now(user_stream(user_id), event)

    async def to_topic(self, topic: str, event: Event) -> None:
        self.publish_now(topic_stream(topic), event)

    async def to_all(self, event: Event) -> None:
        self.publish_now(ALL_STREAM, event)

    async def position(self, stream: str) -> Position:
        return self.history.position_now(stream)

    async def replay(self, stream: str, since: Position) -> Replay:
        return self.history.replay_now(stream, since)
