"""Per-stream positions (epoch, seq) and bounded history for resume.

Every stream (``user:<id>``, ``topic:<name>``, ``all``) has an ``epoch`` and a ``seq``
that rises by exactly 1 per event. The epoch changes whenever the stream's history is
lost (here: a process restart), so a client holding a position from an earlier epoch
is told to resync instead of being replayed a history that does not connect. This is
centrifuge's ``StreamPosition`` (broker.go).

The in-process store keeps, per stream, a ring of the last ``size`` frames no older
than ``ttl`` seconds. The Redis store implements the same :class:`HistoryStore`.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from productdemo.realtime.ids import process_unique


@dataclass(frozen=True, slots=True)
class Position:
    epoch: str
    seq: int


@dataclass(frozen=True, slots=True)
class Replay:
    """Frames after a position, oldest first, or ``resync`` when history does not reach back."""

    frames: list[bytes]
    position: Position
    resync: bool = False


class HistoryStore(Protocol):
    async def position(self, stream: str) -> Position:
        """The stream's current epoch and last seq (0 before its first event)."""
        ...

    async def replay(self, stream: str, since: Position) -> Replay:
        """Every frame after ``since``; ``resync`` if the epoch differs or history is too short."""
        ...


@dataclass(slots=True)
class _Stream:
    epoch: str
    seq: int = 0
    # (seq, published monotonic time, frame); seqs are contiguous from the left end. None
    # until the first event: every signed-in user has a stream, most have no events, and an
    # empty deque is a 600-byte block (docs/performance.md, issue 14).
    frames: deque[tuple[int, float, bytes]] | None = None


def new_epoch() -> str:
    return secrets.token_hex(4)


class MemoryHistory:
    """In-process history: a bounded ring per stream; epochs are new in every process."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._ttl = ttl
        self._clock = clock
        self._streams: dict[str, _Stream] = {}

    def _stream(self, name: str) -> _Stream:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = _Stream(epoch=process_unique())
        return stream

    def append(self, name: str, build: Callable[[int], bytes]) -> tuple[int, bytes]:
        """Give the next seq of ``name`` to the frame ``build(seq)`` returns, and keep it.

        Returns:
            The seq and the frame.
        """
        stream = self._stream(name)
        seq = stream.seq = stream.seq + 1
        frame = build(seq)
        if self._size:
            frames = stream.frames
            if frames is None:
                frames = stream.frames = deque()
            frames.append((seq, self._clock(), frame))
            if len(frames) > self._size:
                frames.popleft()
        return seq, frame

    def position_now(self, name: str) -> Position:
        stream = self._stream(name)
        return Position(stream.epoch, stream.seq)

    async def position(self, stream: str) -> Position:
        return self.position_now(stream)

    def replay_now(self, name: str, since: Position) -> Replay:
        stream = self._stream(name)
        current = Position(stream.epoch, stream.seq)
        if since.epoch != stream.epoch or since.seq > stream.seq:
            return Replay([], current, resync=True)
        if since.seq == stream.seq:
            return Replay([], current)
        self._expire(stream)
        frames = stream.frames
        if not frames or frames[0][0] > since.seq + 1:
            return Replay([], current, resync=True)
        start = since.seq + 1 - frames[0][0]
        return Replay([frames[i][2] for i in range(start, len(frames))], current)

    async def replay(self, stream: str, since: Position) -> Replay:
        return self.replay_now(stream, since)

    def _expire(self, stream: _Stream) -> None:
        if not self._ttl:
            return
        cutoff = self._clock() - self._ttl
        frames = stream.frames
        while frames and frames[0][1] < cutoff:
            frames.popleft()

    def prune(self) -> None:
        """Drop expired frames of every stream (called periodically)."""
        for stream in self._streams.values():
            self._expire(stream)
