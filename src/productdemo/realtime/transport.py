"""Direct writes to a socket's transport, under uvicorn's sans-I/O WebSocket protocol.

ASGI sends one message per ``await send(...)``; for fan-out that costs an await and a
frame build per socket. This subclass of uvicorn's ``websockets-sansio`` protocol (passed
as uvicorn's ``ws`` class) exposes itself to the app in ``scope["extensions"]``, so the
hub can write a frame built once per publish to every socket's transport. The protocol
still owns the handshake, pings, incoming frames and the close handshake; the hub only
adds data frames, and never after a close frame (see ``write``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from productdemo.realtime.protocol import CloseCode

if TYPE_CHECKING:
    from websockets.http11 import Request

    from productdemo.realtime.connection import Connection

EXTENSION = "productdemo.transport"


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final RFC 6455 text frame (server to client)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O protocol plus direct frame writes and flow-control callbacks."""

    connection: Connection | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: dict[str, Any] | None = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][EXTENSION] = self

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            # A refusal (401/403) is a finished exchange; uvicorn 0.54 would otherwise log
            # "ASGI callable returned without completing handshake" for each one.
            self.handshake_complete = True

    def write(self, data: bytes) -> bool:
        """Write pre-built frames unless the close handshake has begun; True if written."""
        if self.close_sent or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    def writable_now(self) -> bool:
        return self.writable.is_set()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.connection is not None:
            self.connection.on_pause()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.connection is not None:
            self.connection.on_resume()

    def close_now(self, code: int, reason: str = "") -> None:
        """Start the close handshake without awaiting (the ASGI ``websocket.close`` path).

        The app's receive loop then gets ``websocket.disconnect`` with this code.
        """
        if self.close_sent or self.transport.is_closing() or not self.handshake_complete:
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

    def shutdown(self) -> None:
        """Server shutdown: flush what is queued, then close with 1001 (uvicorn sends 1012)."""
        if self.connection is not None and self.handshake_complete and not self.close_sent:
            self.connection.close(CloseCode.GOING_AWAY, "server shutting down")
            self.stop_keepalive()
            self.transport.close()
            return
        super().shutdown()
