"""Direct writes to a socket's transport, under uvicorn's sans-I/O WebSocket protocol.

ASGI sends one message per ``await send(...)``; for fan-out that costs an await and a
frame build per socket. This subclass of uvicorn's ``websockets-sansio`` protocol (passed
as uvicorn's ``ws`` class) exposes itself to the app in ``scope["extensions"]``, so the
hub can write a frame built once per publish to every socket's transport. The protocol
still owns the handshake, pings, incoming frames and the close handshake; the hub only
adds data frames, and never after a close frame (see ``write``).

The upgrade request arrives already parsed (:meth:`DirectWebSocketProtocol.upgrade`,
called by ``request_head.GuardedHttpProtocol``): it is checked by ``handshake.py`` instead
of being re-serialised and parsed again by ``websockets``, which only parses frames here.

It is also where a hostile peer is stopped before it costs anything (``docs/security.md``):

- The upgrade must be answered within the head deadline and counts as one unfinished
  head of its address (:mod:`productdemo.request_head`); an invalid one (a header line
  over 8 KiB, a bad key or version) gets its 431/400/426 answer and a close.
- Nothing sent before the 101 is parsed; after it, input is parsed in slices of
  ``INPUT_BATCH`` bytes, one slice per loop turn, so one socket's flood of tiny frames
  never holds the loop.
- Pings, pongs and message fragments spend the owner's rate-limit tokens like messages
  do; a message may have at most ``max_fragments`` fragments and must end within
  ``fragment_timeout`` seconds. A peer closed for flooding (4429) is not owed a close
  handshake: its further input is dropped unread and it is hung up on after a second.
- While the send buffer is full, only the newest pong waits (RFC 6455 5.5.3 allows
  answering only the most recent ping), so a peer that pings and never reads gains no
  memory.
- A text message that is not UTF-8 closes with 1007 and one INFO line, not a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
from typing import Any
from urllib.parse import unquote

from uvicorn.config import Config
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame

from productdemo.realtime import handshake
from productdemo.realtime.keepalive import KeepaliveWheel
from productdemo.realtime.peer import FrameLimits, PongHoldingServerProtocol, SocketOwner
from productdemo.realtime.protocol import CloseCode
from productdemo.realtime.waiting import Flag, Inbox
from productdemo.request_head import HeadGuard, HeadWatch, refusal

logger = logging.getLogger(__name__)
# uvicorn's protocol logs here; looked up once (getLogger takes a lock on every call).
UVICORN_LOGGER = logging.getLogger("uvicorn.error")

EXTENSION = "productdemo.transport"
# Bytes of client input parsed per event-loop turn (about 1,400 of the smallest frames).
INPUT_BATCH = 8192
# Closes for abuse: the peer's further input is dropped unread and the socket is closed
# after this many seconds, whether or not it answers the close frame.
ABUSE = frozenset({CloseCode.RATE_LIMITED})
ABUSE_CLOSE_TIMEOUT = 1.0


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final RFC 6455 text frame (server to client)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O protocol plus direct frame writes, flow control and input limits."""

    conn: PongHoldingServerProtocol

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        *,
        guard: HeadGuard,
        frame_limits: FrameLimits,
        keepalive: KeepaliveWheel,
    ) -> None:
        # uvicorn's __init__ (0.54) is not called: it builds a websockets ServerProtocol, an
        # asyncio.Queue and an asyncio.Event that would all be replaced at once, a tenth of
        # an upgrade's cost. These are its attributes, with the lighter objects.
        if not config.loaded:
            config.load()
        self.config = config
        self.app = config.loaded_app
        self.loop = asyncio.get_event_loop()
        self.logger = UVICORN_LOGGER
        self.root_path = config.root_path
        self.asgi_version = config.asgi_version
        self.app_state = app_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.default_headers = server_state.default_headers
        self.transport = None  # type: ignore[assignment]
        self.server = self.client = None
        self.scheme = None  # type: ignore[assignment]
        self.queue = Inbox(self._resume_after_receive)  # type: ignore[assignment]
        self.handshake_initiated = self.handshake_complete = False
        self.close_sent = self.disconnected = False
        self.close_timer = None
        self.close_timeout = 10.0
        self.initial_response = None
        self.conn = PongHoldingServerProtocol(max_size=config.ws_max_size, logger=self.logger)
        self.read_paused = False
        self.writable = Flag(True)  # type: ignore[assignment]
        self.ping_interval = config.ws_ping_interval
        self.ping_timeout = config.ws_ping_timeout
        self.ping_timer = self.pong_timer = None
        self.pending_ping_payload = None
        self.ping_sent_at = self.last_ping_rtt = 0.0
        self.frames = []
        self.curr_msg_data_type = "bytes"
        self.accept_key = b""
        self.keepalive = keepalive
        self.keepalive_slot: int | None = None
        self.guard = guard
        self.frame_limits = frame_limits
        self.owner: SocketOwner | None = None
        self.handshake: HeadWatch | None = None
        self.inbox: bytearray | None = None
        self.held = False
        self.pending_pong: bytes | None = None
        self.discarding = False
        self.fragments = 0
        self.message_began = 0.0

    @property
    def label(self) -> str:
        """The owner's connection id in log lines, else the peer address."""
        return self.owner.id if self.owner is not None else f"{self.client}"

    # -- the upgrade ------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        # Only request_head.GuardedHttpProtocol hands the upgrade over parsed (``upgrade``);
        # uvicorn's own HTTP protocols call this, then feed the raw request, which this class
        # no longer parses. Misconfigured: say so and answer, rather than hang the client.
        super().connection_made(transport)
        logger.error("DirectWebSocketProtocol needs request_head.GuardedHttpProtocol as uvicorn's http class")
        self.handshake_complete = self.close_sent = True
        transport.write(refusal(500, "Internal Server Error"))
        transport.close()

    def _watch_handshake(self) -> None:
        address = self.client[0] if self.client else "?"
        self.handshake = HeadWatch.start(self.guard, address, self.loop, self._handshake_expired)
        if self.handshake is None:
            logger.info("upgrade refused 429: too many unfinished upgrades from %s", address)
            self.handshake_complete = self.close_sent = True
            self.transport.write(refusal(429, "Too Many Requests"))
            self.transport.close()

    def _handshake_done(self) -> None:
        if self.handshake is not None:
            self.handshake.end()
            self.handshake = None

    def _handshake_expired(self) -> None:
        self.handshake = None
        if not self.handshake_complete and not self.transport.is_closing():
            logger.info("upgrade from %s not answered in time; closed", self.client)
            self.handshake_complete = self.close_sent = True
            self.transport.close()

    def upgrade(
        self, transport: Any, http: Any, method: bytes, target: bytes, headers: handshake.Headers
    ) -> None:
        """Take over ``transport`` and the upgrade request that ``http`` parsed; start the app.

        ``http`` is uvicorn's HTTP protocol: the addresses come from it, which read them
        already (``connection_made`` would ask the transport again).
        """
        self.connections.add(self)
        self.transport = transport
        self.server, self.client = http.server, http.client
        self.scheme = "wss" if http.scheme == "https" else "ws"
        self._watch_handshake()
        if self.transport.is_closing():  # refused: too many unfinished upgrades
            return
        try:
            self.accept_key = handshake.check(method, headers)
        except handshake.Refusal as refused:
            logger.info("upgrade from %s refused %d: %s", self.client, refused.status, refused.reason)
            self.handshake_complete = self.close_sent = True
            self._handshake_done()
            self.transport.write(handshake.refusal_response(refused))
            self.transport.close()
            return
        self.handshake_initiated = True
        raw_path, _, query = target.partition(b"?")
        root = self.root_path
        scope: Any = {
            "type": "websocket",
            "asgi": {"version": self.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": self.scheme,
            "server": self.server,
            "client": self.client,
            "root_path": root,
            "path": root + unquote(raw_path.decode("ascii")),
            "raw_path": root.encode("ascii") + raw_path,
            "query_string": query,
            "headers": headers,
            "subprotocols": handshake.subprotocols(headers),
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}, EXTENSION: self},
        }
        self.scope = scope
        self.queue.put_nowait({"type": "websocket.connect"})
        task = self.loop.create_task(self.run_asgi())
        task.add_done_callback(self.on_task_complete)
        self.tasks.add(task)

    def _accept(self, message: Any) -> None:
        """Send the 101 and start parsing frames (uvicorn's accept, minus its second parse)."""
        headers = self.default_headers + list(message.get("headers", []))
        if message.get("subprotocol"):
            headers.append((b"sec-websocket-protocol", message["subprotocol"].encode()))
        self.conn.open()
        self.handshake_complete = True
        self.transport.write(handshake.switching_protocols(self.accept_key, headers))
        self.start_keepalive()

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "websocket.accept" and not self.handshake_complete and self.initial_response is None:
            await self.writable.wait()
            if self.disconnected:
                raise ClientDisconnected()
            if not self.transport.is_closing():
                self._accept(message)
        else:
            await super().send(message)
        if kind == "websocket.http.response.body" and not message.get("more_body", False):
            # A refusal (401/403) is a finished exchange; uvicorn 0.54 would otherwise log
            # "ASGI callable returned without completing handshake" for each one.
            self.handshake_complete = True
        if self.handshake_complete:
            self._handshake_done()
            if kind == "websocket.accept" and self.inbox is not None:
                self.loop.call_soon(self._drain)

    def attach(self, owner: SocketOwner | None) -> None:
        """Set (or, with None, clear) who owns this socket once it is accepted."""
        self.owner = owner

    # -- input ------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.discarding:
            return
        if self.inbox is not None:  # earlier input is still waiting for its turn
            self.inbox += data
            self._hold_reading()
            return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        if not self.handshake_complete:
            if self.handshake_initiated:
                # Frames sent before the 101 wait until the app has accepted the socket.
                self.inbox = bytearray(data)
                self._hold_reading()
            return  # else refused: what follows the head is not read
        super().data_received(data[:INPUT_BATCH])
        rest = data[INPUT_BATCH:]
        if rest and not self.transport.is_closing():
            self.inbox = bytearray(rest)
            self._hold_reading()
            self.loop.call_soon(self._drain)

    def _drain(self) -> None:
        data, self.inbox = self.inbox, None
        self.held = False
        if self.transport.is_closing() or data is None:
            return
        if not self.read_paused:
            self.transport.resume_reading()
        self._feed(bytes(data))

    def _hold_reading(self) -> None:
        # Called again on every arrival: uvicorn's receive() may have resumed reading.
        self.held = True
        self.transport.pause_reading()

    def receive(self) -> Any:
        # uvicorn's receive, minus its coroutine frame, which every open socket kept while
        # waiting: the inbox resumes reading itself once drained (_resume_after_receive).
        return self.queue.get()

    def _resume_after_receive(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def _spend(self, what: str) -> bool:
        """Take a rate-limit token for a frame that is not a whole message; False if refused."""
        owner = self.owner
        if owner is None:
            return False
        if owner.bucket.take():
            return True
        if owner.bucket.abusive and not self.close_sent:
            logger.info("%s closing: %s flood", owner.id, what)
            self.close_now(CloseCode.RATE_LIMITED, "rate limit abused")
        return False

    def handle_ping(self) -> None:
        pongs = self.conn.pongs
        if not pongs:  # websockets answers no ping once closing
            return
        pong = pongs.pop(0)
        if not self._spend("ping") or self.close_sent:
            return
        if self.writable.is_set():
            self.transport.write(pong)
        else:
            self.pending_pong = pong

    def handle_pong(self, event: Frame) -> None:
        # Counted like any frame, but always seen: an answer to our keepalive ping must not
        # be lost because the peer was busy sending messages just then.
        self._spend("pong")
        if self.pending_ping_payload is None or bytes(event.data) != self.pending_ping_payload:
            return  # unsolicited, or the answer to an earlier ping
        self.last_ping_rtt = self.loop.time() - self.ping_sent_at
        self.pending_ping_payload = None
        self.keepalive.cancel(self, self.keepalive_slot)
        self.schedule_ping()

    # -- keepalive: uvicorn's pings and deadlines, on the server's one timer (keepalive.py)

    def schedule_ping(self) -> None:
        assert self.ping_interval is not None
        delay = max(0.0, self.ping_interval - self.last_ping_rtt)
        self.keepalive_slot = self.keepalive.at(self, delay)

    def keepalive_due(self) -> None:
        self.keepalive_slot = None
        if self.pending_ping_payload is None:
            self.send_keepalive_ping()
        else:
            self.keepalive_timeout()

    def send_keepalive_ping(self) -> None:
        if self.close_sent or self.transport.is_closing():
            return
        self.pending_ping_payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at = self.loop.time()
        self.conn.send_ping(self.pending_ping_payload)
        self.transport.write(b"".join(self.conn.data_to_send()))
        if self.ping_timeout is not None:
            self.keepalive_slot = self.keepalive.at(self, self.ping_timeout)
        else:
            self.pending_ping_payload = None
            self.schedule_ping()

    def stop_keepalive(self) -> None:
        self.keepalive.cancel(self, self.keepalive_slot)
        self.keepalive_slot = None
        self.pending_ping_payload = None

    def handle_text(self, event: Frame) -> None:
        self._begin_message(event)
        super().handle_text(event)

    def handle_bytes(self, event: Frame) -> None:
        self._begin_message(event)
        super().handle_bytes(event)

    def _begin_message(self, event: Frame) -> None:
        self.fragments = 1
        if not event.fin:
            self.message_began = self.loop.time()
            self._spend("fragment")

    def handle_cont(self, event: Frame) -> None:
        self.fragments += 1
        limits = self.frame_limits
        if self.fragments > limits.max_fragments:
            self._fail(
                CloseCode.POLICY_VIOLATION, f"a message may have at most {limits.max_fragments} fragments"
            )
        elif self.loop.time() - self.message_began > limits.fragment_timeout:
            self._fail(CloseCode.POLICY_VIOLATION, "a fragmented message took too long")
        elif event.fin or self._spend("fragment"):
            super().handle_cont(event)

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type != "text" or self.close_sent:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self._fail(CloseCode.INVALID_DATA, "text frames must be UTF-8")
            return
        self.queue.put_nowait({"type": "websocket.receive", "text": text})
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def _fail(self, code: CloseCode, reason: str) -> None:
        """Close at once for a broken rule: the rest of this peer's input is not read."""
        self.frames = []
        if self.close_sent:
            return
        logger.info("%s closing code=%d: %s", self.label, code, reason)
        self.inbox = None
        self.conn.fail(int(code), reason)
        self.handle_parser_exception()

    # -- output -----------------------------------------------------------------------

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
        if self.owner is not None:
            self.owner.on_pause()

    def resume_writing(self) -> None:
        super().resume_writing()
        pong, self.pending_pong = self.pending_pong, None
        if pong is not None and not self.close_sent:
            self.transport.write(pong)
        if self.owner is not None:
            self.owner.on_resume()

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
        if self.read_paused or self.held:
            self.read_paused = self.held = False
            self.inbox = None
            self.transport.resume_reading()
        timeout = self.close_timeout
        if code in ABUSE:
            # A flooding peer is not owed a close handshake: parsing what it still sends
            # would cost as much as the flood. Drop its input and hang up shortly.
            self.discarding = True
            timeout = ABUSE_CLOSE_TIMEOUT
        self.close_timer = self.loop.call_later(timeout, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._handshake_done()
        self.inbox = None
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """Server shutdown: flush what is queued, then close with 1001 (uvicorn sends 1012)."""
        if self.owner is not None and self.handshake_complete and not self.close_sent:
            self.owner.close(CloseCode.GOING_AWAY, "server shutting down")
            self.stop_keepalive()
            self.transport.close()
            return
        super().shutdown()
