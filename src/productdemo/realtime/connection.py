"""One socket: its state, its bounded send queue and the one path that flushes it.

Frames for a socket are queued in ``pending`` and written by :meth:`Connection.flush`,
which the hub calls once per event-loop tick for every socket that has something
queued: a burst of events for one socket becomes one ``write`` (one system call).
While the transport's buffer is over its high-water mark (``on_pause``) nothing is
written and frames wait in ``pending``; past ``max_queue`` waiting frames the socket is
closed with 4408 and the client resumes from history. (While the transport accepts
writes, ``pending`` only holds what one tick published, and is flushed at its end.)
A socket that stops reading therefore costs a bounded amount of memory and never
delays anyone else.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from productdemo.realtime.metrics import RealtimeMetrics
from productdemo.realtime.protocol import CloseCode, skipped_frame
from productdemo.realtime.ratelimit import TokenBucket
from productdemo.realtime.transport import text_frame

logger = logging.getLogger(__name__)

# Superseded entries tolerated in a stalled queue before it is rebuilt without them.
COMPACT_AT = 64
NO_TOPICS: frozenset[str] = frozenset()


class State(enum.Enum):
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


_ALLOWED = {
    State.OPEN: {State.CLOSING, State.CLOSED},
    State.CLOSING: {State.CLOSED},
    State.CLOSED: set[State](),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is on the other end: the authenticated user and their session."""

    user_id: int
    username: str
    role: str
    session_hash: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Transport(Protocol):
    def write(self, data: bytes) -> bool: ...

    def writable_now(self) -> bool: ...

    def close_now(self, code: int, reason: str = "") -> None: ...


class Connection:
    """A WebSocket connection as the hub sees it."""

    __slots__ = (
        "_mark_dirty",
        "_state",
        "bucket",
        "dead",
        "debug",
        "id",
        "keyed",
        "max_queue",
        "metrics",
        "paused",
        "pending",
        "principal",
        "skipped",
        "streams",
        "topics",
        "transport",
    )

    def __init__(
        self,
        conn_id: str,
        principal: Principal,
        transport: Transport,
        bucket: TokenBucket,
        max_queue: int,
        mark_dirty: Callable[[Connection], None],
        metrics: RealtimeMetrics,
        debug: bool = False,
    ) -> None:
        self.id = conn_id
        self.principal = principal
        self.transport = transport
        self.bucket = bucket
        self.max_queue = max_queue
        self._mark_dirty = mark_dirty
        self.metrics = metrics
        self._state = State.OPEN
        # One frame is kept as itself, several as a list: bytes are not tracked by the garbage
        # collector, so the usual case (one event per socket per tick) allocates nothing it
        # must scan. A list per socket per event made a full collection every second under
        # load, each one delaying every socket (docs/performance.md, issue 14).
        self.pending: bytes | list[bytes] | None = None
        # Conflation bookkeeping, used only while the transport is paused: the queue index,
        # stream and seq of the newest queued event per (stream, conflation key); how many queued
        # entries were superseded (left as b""); and the superseded seqs per stream.
        self.keyed: dict[tuple[str, str], tuple[int, str, int]] | None = None
        self.dead = 0
        self.skipped: dict[str, list[int]] | None = None
        self.paused = not transport.writable_now()
        self.streams: set[str] = set()
        # Shared and empty until the first subscribe (most sockets never subscribe to one).
        self.topics: set[str] | frozenset[str] = NO_TOPICS
        # Track if DEBUG is enabled. Shortcut per-frame logging calls if it isn't.
        self.debug = debug

    def __repr__(self) -> str:
        return f"<Connection {self.id} user={self.principal.user_id} {self._state.name}>"

    @property
    def state(self) -> State:
        return self._state

    def _set_state(self, new: State) -> None:
        if new not in _ALLOWED[self._state]:
            raise RuntimeError(f"connection {self.id}: cannot go from {self._state.name} to {new.name}")
        if self.debug:
            logger.debug("%s state %s -> %s", self.id, self._state.name, new.name)
        self._state = new

    @property
    def is_open(self) -> bool:
        return self._state is State.OPEN

    def send(self, message: bytes) -> None:
        """Queue one JSON message (a reply or control frame) for this socket."""
        if self.debug:
            logger.debug("%s > %s", self.id, message[:200])
        self.enqueue(text_frame(message))

    def queued(self) -> int:
        """Frames waiting to be written (superseded ones included until compacted)."""
        pending = self.pending
        return 0 if pending is None else 1 if isinstance(pending, bytes) else len(pending)

    def _queue(self) -> list[bytes]:
        """``pending`` as a list, to append to or index."""
        pending = self.pending
        if pending is None:
            pending = []
        elif isinstance(pending, bytes):
            pending = [pending]
        else:
            return pending
        self.pending = pending
        return pending

    def enqueue(self, frame: bytes) -> None:
        """Queue a pre-built WebSocket frame; flushed at the end of this loop tick."""
        if self._state is not State.OPEN:
            return
        if self.pending is None:
            self.pending = frame
            if not self.paused:
                self._mark_dirty(self)
            return
        if self.paused and self.queued() - self.dead >= self.max_queue:
            self.close(CloseCode.TOO_SLOW, "send queue full", flush=False)
            return
        self._queue().append(frame)

    def enqueue_state(self, frame: bytes, key: str, stream: str, seq: int) -> None:
        """Queue a state event that a newer event with the same ``key`` supersedes.

        While the socket keeps up this is :meth:`enqueue`. While it is stalled, the
        newest event replaces a queued older one, so a slow client gets the latest state
        instead of a backlog; the replaced seqs are announced in a ``skipped`` frame so
        the client does not take them for a gap.
        """
        if not self.paused:
            self.enqueue(frame)
            return
        if self._state is not State.OPEN:
            return
        pending = self._queue()
        keyed = self.keyed if self.keyed is not None else {}
        self.keyed = keyed
        # Per stream: the same state sent on two streams (a user's and a topic's) is two
        # copies, each the newest of its own stream, and neither may replace the other.
        slot = (stream, key)
        old = keyed.get(slot)
        if old is not None:
            index, old_stream, old_seq = old
            pending[index] = b""
            self.dead += 1
            self.metrics.conflated += 1
            skipped = self.skipped if self.skipped is not None else {}
            self.skipped = skipped
            skipped.setdefault(old_stream, []).append(old_seq)
        elif len(pending) - self.dead >= self.max_queue:
            self.close(CloseCode.TOO_SLOW, "send queue full", flush=False)
            return
        keyed[slot] = (len(pending), stream, seq)
        pending.append(frame)
        if self.dead > COMPACT_AT and self.dead * 2 > len(pending):
            self._compact()

    def _compact(self) -> None:
        assert self.keyed is not None
        moved = {index: key for key, (index, _, _) in self.keyed.items()}
        live: list[bytes] = []
        for index, frame in enumerate(self._queue()):
            if frame:
                key = moved.get(index)
                if key is not None:
                    _, stream, seq = self.keyed[key]
                    self.keyed[key] = (len(live), stream, seq)
                live.append(frame)
        self.pending = live
        self.dead = 0

    def flush(self) -> None:
        """Write everything queued in one call, unless the transport asked us to wait."""
        pending = self.pending
        if pending is None or self.paused:
            return
        self.pending = None
        if isinstance(pending, bytes):
            self.transport.write(pending)
            return
        if self.keyed is not None:
            pending = self._conflated(pending)
        if not pending:
            return
        self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def _conflated(self, pending: list[bytes]) -> list[bytes]:
        """The queue without superseded entries, led by ``skipped`` notices."""
        notices = [
            text_frame(skipped_frame(stream, sorted(seqs))) for stream, seqs in (self.skipped or {}).items()
        ]
        self.keyed = self.skipped = None
        self.dead = 0
        return notices + [frame for frame in pending if frame]

    def on_pause(self) -> None:
        self.paused = True

    def on_resume(self) -> None:
        self.paused = False
        if self.pending:
            self._mark_dirty(self)

    def close(self, code: CloseCode, reason: str, flush: bool = True) -> None:
        """Begin the close handshake; queued frames go first when ``flush`` and writable."""
        if self._state is not State.OPEN:
            return
        if flush:
            self.flush()
        self.pending = self.keyed = self.skipped = None
        self._set_state(State.CLOSING)
        logger.info("%s closing user=%s code=%d reason=%s", self.id, self.principal.user_id, code, reason)
        self.transport.close_now(int(code), reason)

    def closed(self) -> None:
        """The socket is gone (called once by the hub when it unregisters it)."""
        self.pending = None
        if self._state is not State.CLOSED:
            self._set_state(State.CLOSED)
