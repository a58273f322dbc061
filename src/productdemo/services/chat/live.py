"""An answer being written on this instance: its text so far and the chunks sent for it.

Text is published in chunks at most once per ``interval`` seconds (one flusher per answer), each
carrying the UTF-16 offset of its first character in the answer — the unit JavaScript's
``string.length`` counts, so a browser compares offsets with the text it holds directly.
The text so far includes pieces not yet flushed: a page that fetched it over REST drops the
chunk that later brings the same characters, by offset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

Reason = Literal["cancelled", "lost", "interrupted"]
#: publish(offset, delta)
ChunkSink = Callable[[int, str], Awaitable[None]]


def units(text: str) -> int:
    """The length of ``text`` in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(eq=False)
class LiveAnswer:
    conversation_id: str
    message_id: str
    owner_id: int
    question: str
    started: float = field(default_factory=time.monotonic)
    pieces: list[str] = field(default_factory=list)
    length: int = 0
    sent: int = 0
    # Why the work was stopped early (None while it runs, and when it ran to its end).
    stop_reason: Reason | None = None
    work: asyncio.Task[None] | None = None
    job: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: bool = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def add(self, piece: str) -> None:
        """Append generated text; the flusher sends it within one interval."""
        self.pieces.append(piece)
        self.length += units(piece)
        self._wake.set()

    def stop(self, reason: Reason) -> bool:
        """Stop the work (retrieval or generation) for ``reason``; False if it had already ended."""
        if self.work is None or self.work.done():
            return False
        if self.stop_reason is None:
            self.stop_reason = reason
        self.work.cancel()
        return True

    async def flush_loop(self, sink: ChunkSink, interval: float) -> None:
        """Send what was added, at most once per ``interval``, until :meth:`close_flusher`.

        Leading edge: text that arrives after a quiet interval (the first token, a slow model)
        goes out at once; text that arrives sooner waits for the interval's end, merged.
        """
        last = -interval
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            wait = last + interval - time.monotonic()
            if wait > 0 and not self._closing:
                await asyncio.sleep(wait)
            await self.flush(sink)
            last = time.monotonic()

    async def flush(self, sink: ChunkSink) -> None:
        """Send the text past what was sent, as one chunk."""
        text = self.text
        done = self.sent
        if self.length == done:
            return
        # Slice by code units: ``done`` is a UTF-16 offset, the Python string counts code points.
        encoded = text.encode("utf-16-le")
        delta = encoded[2 * done :].decode("utf-16-le")
        self.sent = self.length
        await sink(done, delta)

    def close_flusher(self) -> None:
        self._closing = True
        self._wake.set()
