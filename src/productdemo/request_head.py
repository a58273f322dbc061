"""Request heads arrive in time, stay small, and few at once from one address.

uvicorn's httptools protocol waits as long as a client likes for a request's head and
buffers its header lines without limit; a client sending headers a byte at a time (or a
megabyte of them) holds a connection and memory for free. :class:`HeadGuard` is shared
by one server's protocols: it counts, per client address, the connections whose request
head (or WebSocket upgrade) is still unfinished, and :class:`GuardedHttpProtocol` gives
every head a deadline and a size cap. Refusals are plain HTTP answers, then a close:
408 (too slow), 431 (head too large), 429 (too many unfinished heads from one address).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)

# Seconds a refused connection is kept half-closed so the client reads the answer.
LINGER = 1.0


@dataclass(frozen=True, slots=True)
class HeadLimits:
    timeout: float = 10.0  # seconds for a request head to arrive (and an upgrade to be answered)
    max_size: int = 65_536  # bytes of request line and headers
    max_half_open: int = 256  # unfinished heads and upgrades per client address


def refusal(status: int, reason: str) -> bytes:
    """A complete HTTP/1.1 answer that tells the client why and closes the connection."""
    body = f"{reason}\n".encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


class HeadGuard:
    """Unfinished request heads per client address, for one server."""

    def __init__(self, limits: HeadLimits) -> None:
        self.limits = limits
        self.half_open: Counter[str] = Counter()

    def enter(self, address: str) -> bool:
        """Count one more unfinished head from ``address``; False (not counted) when at the cap."""
        if self.half_open[address] >= self.limits.max_half_open:
            return False
        self.half_open[address] += 1
        return True

    def leave(self, address: str) -> None:
        left = self.half_open[address] - 1
        if left > 0:
            self.half_open[address] = left
        else:
            del self.half_open[address]


class HeadWatch:
    """One connection's unfinished head: its place in the guard and its deadline."""

    __slots__ = ("address", "guard", "timer")

    def __init__(self, guard: HeadGuard, address: str, timer: asyncio.TimerHandle) -> None:
        self.guard = guard
        self.address = address
        self.timer = timer

    @classmethod
    def start(
        cls, guard: HeadGuard, address: str, loop: asyncio.AbstractEventLoop, on_expiry: Any
    ) -> HeadWatch | None:
        """Watch a new head, or None when ``address`` already has too many unfinished."""
        if not guard.enter(address):
            return None
        return cls(guard, address, loop.call_later(guard.limits.timeout, on_expiry))

    def end(self) -> None:
        self.timer.cancel()
        self.guard.leave(self.address)


class LingeringClose:
    """The transport as a request cycle sees it, except that ``close`` lingers (see ``linger``)."""

    def __init__(self, protocol: GuardedHttpProtocol) -> None:
        self._protocol = protocol
        self._transport = protocol.transport

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        self._protocol.linger()


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline, a size cap and a per-address cap on heads."""

    def __init__(self, *args: Any, guard: HeadGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard
        self.head: HeadWatch | None = None
        self.head_bytes = 0
        self.refused = False
        self.input_done = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._begin_head()

    def _begin_head(self) -> None:
        self.head_bytes = 0
        address = self.client[0] if self.client else "?"
        self.head = HeadWatch.start(self.guard, address, self.loop, self._head_expired)
        if self.head is None:
            logger.info("refused 429: too many unfinished requests from %s", address)
            self._refuse(429, "Too Many Requests")

    def _end_head(self) -> None:
        if self.head is not None:
            self.head.end()
            self.head = None

    def _refuse(self, status: int, reason: str) -> None:
        self._end_head()
        if self.refused or self.transport.is_closing():
            return
        self.transport.write(refusal(status, reason))
        self.input_done = False  # the rest of the head may still be on its way
        self.linger()

    def _head_expired(self) -> None:
        logger.info("refused 408: request head from %s not complete in time", self.client)
        self._refuse(408, "Request Timeout")

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if self.head is None:
            super().data_received(data)
            return
        # Parse first: the chunk that completes a head may carry the start of a large body.
        self.head_bytes += len(data)
        super().data_received(data)
        if self.head is not None and self.head_bytes > self.guard.limits.max_size:
            logger.info("refused 431: request head from %s over %d bytes", self.client, self.head_bytes)
            self._refuse(431, "Request Header Fields Too Large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.head is None:  # the next request on a kept-alive connection
            self._begin_head()

    def on_headers_complete(self) -> None:
        self._end_head()
        self.input_done = False
        super().on_headers_complete()
        if self.cycle is not None and not self.parser.should_upgrade():
            self.cycle.transport = LingeringClose(self)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self.input_done = True
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        """Hand the parsed upgrade to a WebSocket protocol that takes it parsed.

        uvicorn would write the request out again for the protocol to parse a second
        time; ``realtime.transport.DirectWebSocketProtocol.upgrade`` takes it as is.
        """
        protocol = self.ws_protocol_class(  # type: ignore[misc,call-arg]
            config=self.config, server_state=self.server_state, app_state=self.app_state
        )
        upgrade = getattr(protocol, "upgrade", None)
        if upgrade is None:
            super().handle_websocket_upgrade()
            return
        self.connections.discard(self)
        self.transport.set_protocol(protocol)
        upgrade(self.transport, self, self.scope["method"].encode(), self.url, self.scope["headers"])

    def linger(self) -> None:
        """Close after an answer; if the request body is still coming, read and drop it briefly.

        Closing a socket with unread input resets the connection, and the client may lose
        the answer (a 401 or 413 sent before its upload ended) with it.
        """
        if self.input_done or self.transport.is_closing() or not self.transport.can_write_eof():
            self.transport.close()
            return
        self.refused = True
        self.transport.write_eof()
        self.transport.resume_reading()
        self.loop.call_later(LINGER, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_head()
        super().connection_lost(exc)
