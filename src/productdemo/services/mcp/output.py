"""Turning a remote command's output bytes into coalesced, offset-numbered text frames.

Each stream has its own incremental UTF-8 decoder, so a character split across two reads
comes out whole. Text waits in one buffer until ``interval`` seconds have passed,
``max_bytes`` (counted in characters) have gathered, or the other stream speaks; then it
goes to the sink as one frame. The sink is awaited, so a slow store or broker slows the
reading of the remote output (TCP flow control holds the rest on the host), and nothing is
ever dropped.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Awaitable, Callable
from typing import Literal

Stream = Literal["stdout", "stderr"]
#: sink(stream, offset, text): store and publish one frame.
Sink = Callable[[Stream, int, str], Awaitable[None]]


class OutputCoalescer:
    def __init__(self, sink: Sink, interval: float = 0.1, max_bytes: int = 16384, offset: int = 0) -> None:
        self._sink = sink
        self._interval = interval
        self._max_bytes = max_bytes
        self._decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")(errors="replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")(errors="replace"),
        }
        self._stream: Stream = "stdout"
        self._parts: list[str] = []
        self._size = 0
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        # What a timed flush raised (e.g. the install's claim was lost): the reader gets it at
        # its next feed or close, since nothing awaits the timer's task.
        self._failure: Exception | None = None
        #: Bytes handed to the sink so far: the next frame's offset.
        self.offset = offset

    async def feed(self, stream: Stream, data: bytes) -> None:
        """Add bytes read from ``stream``."""
        self._raise_failure()
        text = self._decoders[stream].decode(data)
        if text:
            await self._add(stream, text)

    async def close(self) -> None:
        """Flush what is buffered, including an incomplete character at the end (as U+FFFD)."""
        streams: tuple[Stream, ...] = ("stdout", "stderr")
        for stream in streams:
            tail = self._decoders[stream].decode(b"", final=True)
            if tail:
                await self._add(stream, tail)
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        self._raise_failure()
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            if not self._parts:
                return
            text = "".join(self._parts)
            stream = self._stream
            self._parts = []
            self._size = 0
            offset = self.offset
            self.offset += len(text.encode())
            await self._sink(stream, offset, text)

    async def _add(self, stream: Stream, text: str) -> None:
        if self._parts and stream != self._stream:
            await self.flush()
        self._stream = stream
        # One read may bring 64 KiB: cut it so that no frame holds much more than max_bytes.
        while len(text) > self._max_bytes - self._size:
            room = self._max_bytes - self._size
            self._parts.append(text[:room])
            self._size += room
            text = text[room:]
            await self.flush()
        if text:
            self._parts.append(text)
            self._size += len(text)
        if self._parts and (self._ticker is None or self._ticker.done()):
            self._ticker = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._interval)
        try:
            await self.flush()
        except Exception as exc:
            self._failure = exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure
