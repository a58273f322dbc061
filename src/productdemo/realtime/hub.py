"""The hub: this instance's sockets, fed by the broker.

It tells the broker about every local socket that joins or leaves a stream (the broker
counts them and receives a stream while its count is above zero); ``deliver`` builds the
WebSocket frame once and queues the same bytes on every local socket of the stream;
``_flush`` writes each socket's queue once per event-loop tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import orjson

from productdemo.config import RealtimeSettings
from productdemo.errors import DomainError
from productdemo.realtime.broker import Broker
from productdemo.realtime.connection import Connection, Principal, Transport
from productdemo.realtime.history import Position
from productdemo.realtime.ids import process_unique
from productdemo.realtime.lifecycle import ConnectionListener
from productdemo.realtime.metrics import RealtimeMetrics
from productdemo.realtime.protocol import (
    PROTOCOL_VERSION,
    CloseCode,
    ResyncPayload,
    ResyncRequiredFrame,
    encode,
)
from productdemo.realtime.publisher import ALL_STREAM, topic_stream, user_stream
from productdemo.realtime.ratelimit import TokenBucket
from productdemo.realtime.registry import ConnectedUser, ConnectionsPublic, Registry
from productdemo.realtime.transport import text_frame

logger = logging.getLogger(__name__)


class Hub:
    def __init__(self, broker: Broker, settings: RealtimeSettings) -> None:
        self.broker = broker
        self.settings = settings
        self.registry = Registry()
        self.metrics = RealtimeMetrics()
        self._dirty: list[Connection] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.debug = settings.debug_frames and logger.isEnabledFor(logging.DEBUG)
        self._listeners: list[ConnectionListener] = []
        broker.attach(self.deliver, self.on_gap)

    # --- delivery -------------------------------------------------------------------

    def deliver(self, stream: str, seq: int, message: bytes, conflation_key: str | None = None) -> None:
        """Queue one event frame on every local socket of ``stream`` (frame built once)."""
        conns = self.registry.by_stream.get(stream)
        if not conns:
            return
        metrics = self.metrics
        metrics.events_published += 1
        metrics.frames_out += len(conns)
        frame = text_frame(message)
        if conflation_key is None:
            for conn in conns:
                conn.enqueue(frame)
        else:
            for conn in conns:
                conn.enqueue_state(frame, conflation_key, stream, seq)

    async def on_gap(self, streams: list[str]) -> None:
        """The broker may have lost events on ``streams``: tell their sockets to resync."""
        for stream in streams:
            conns = self.registry.by_stream.get(stream)
            if not conns:
                continue
            try:
                pos = await self.broker.position(stream)
            except DomainError as exc:
                # Without a position there is nothing to resync to: reconnecting makes the
                # clients reconcile from a fresh hello instead. The other streams go on.
                logger.warning("no position for %s after a broker gap (%s); closing its sockets", stream, exc)
                _close_all(tuple(conns), CloseCode.TRY_AGAIN_LATER, "broker reconnected, reconnect")
                continue
            frame = ResyncRequiredFrame(
                payload=ResyncPayload(
                    stream=stream, epoch=pos.epoch, seq=pos.seq, reason="broker reconnected"
                )
            )
            message = encode(frame)
            for conn in tuple(conns):
                conn.send(message)

    def _mark_dirty(self, conn: Connection) -> None:
        self._dirty.append(conn)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    # --- lifecycle --------------------------------------------------------------------

    def add_listener(self, listener: ConnectionListener) -> None:
        """Tell ``listener`` of every socket opened and closed on this instance from now on."""
        self._listeners.append(listener)

    def new_connection(self, principal: Principal, transport: Transport) -> Connection:
        s = self.settings
        bucket = TokenBucket(s.rate_limit, s.rate_burst, s.rate_abuse_threshold)
        conn_id = "c_" + process_unique()
        return Connection(
            conn_id,
            principal,
            transport,
            bucket,
            s.send_queue_max,
            self._mark_dirty,
            self.metrics,
            self.debug,
        )

    async def register(self, conn: Connection) -> None:
        """Add an accepted socket: join its user's stream and ``all``, then send ``hello``.

        The positions in ``hello`` are read only once the broker confirmed both streams,
        so every event after them reaches this socket live (none falls in between).
        """
        self.registry.add(conn)
        p = conn.principal
        streams = (user_stream(p.user_id), ALL_STREAM)
        for stream in streams:
            await self._join(conn, stream)
        positions = {s: await self.broker.position(s) for s in streams}
        # Built as a dict, not through the HelloFrame model: this runs once per upgrade.
        hello = {
            "type": "hello",
            "payload": {
                "connectionId": conn.id,
                "user": {"id": p.user_id, "username": p.username, "role": p.role},
                "protocol": PROTOCOL_VERSION,
                "heartbeatInterval": self.settings.heartbeat_interval,
                "serverTime": time.time_ns() // 1_000_000,
                "streams": {s: {"epoch": pos.epoch, "seq": pos.seq} for s, pos in positions.items()},
            },
        }
        conn.send(orjson.dumps(hello))
        # DEBUG: at thousands of upgrades a second, a line per socket was a tenth of an
        # upgrade's cost (docs/performance.md). Refusals and closes the server starts stay INFO.
        logger.debug("%s connected user=%s", conn.id, p.user_id)
        for listener in self._listeners:
            await listener.connection_opened(p, conn.id)

    async def unregister(self, conn: Connection, code: int | None = None) -> None:
        """Forget a socket that has gone and tell the broker which streams it left."""
        conn.closed()
        self.metrics.closes[code or 1006] += 1
        streams = list(conn.streams) if conn.id in self.registry.by_id else []
        self.registry.remove(conn)
        for stream in streams:
            await self.broker.unsubscribe(stream)
        logger.debug("%s disconnected user=%s code=%s", conn.id, conn.principal.user_id, code)
        for listener in self._listeners:
            await listener.connection_closed(conn.principal, conn.id)

    async def _join(self, conn: Connection, stream: str) -> None:
        # The broker counts sockets per stream: one subscribe per socket that joins, one
        # unsubscribe per socket that leaves, so awaits in between cannot reorder a decision.
        if stream in conn.streams:
            return
        self.registry.join(conn, stream)
        await self.broker.subscribe(stream)

    async def _leave(self, conn: Connection, stream: str) -> None:
        if stream not in conn.streams:
            return
        self.registry.leave(conn, stream)
        await self.broker.unsubscribe(stream)

    # --- subscriptions and resume -----------------------------------------------------

    async def subscribe(self, conn: Connection, topic: str) -> Position:
        """Join a topic's stream (authorization is the router's job); returns its position."""
        stream = topic_stream(topic)
        joined = stream not in conn.streams
        if isinstance(conn.topics, frozenset):
            conn.topics = set()
        conn.topics.add(topic)
        try:
            await self._join(conn, stream)
            return await self.broker.position(stream)
        except DomainError:
            if joined:  # undo only what this call did
                await self.unsubscribe(conn, topic)
            raise

    async def unsubscribe(self, conn: Connection, topic: str) -> None:
        if isinstance(conn.topics, set):
            conn.topics.discard(topic)
        await self._leave(conn, topic_stream(topic))

    async def resume(self, conn: Connection, streams: dict[str, Position]) -> dict[str, object]:
        """Replay each stream after the client's position, or send ``resync_required``.

        Replayed frames are queued in order before the caller's ``ack``; live events
        the socket already got are sent again, and the client drops them by seq.
        """
        result: dict[str, object] = {}
        for stream, since in streams.items():
            replay = await self.broker.replay(stream, since)
            pos = replay.position
            if replay.resync:
                reason = "epoch changed" if since.epoch != pos.epoch else "history does not reach back"
                frame = ResyncRequiredFrame(
                    payload=ResyncPayload(stream=stream, epoch=pos.epoch, seq=pos.seq, reason=reason)
                )
                conn.send(encode(frame))
            else:
                for message in replay.frames:
                    conn.enqueue(text_frame(message))
            result[stream] = {
                "epoch": pos.epoch,
                "seq": pos.seq,
                "replayed": len(replay.frames),
                "resync": replay.resync,
            }
        return result

    # --- closing ----------------------------------------------------------------------

    def close_session(self, session_hash: str, code: CloseCode, reason: str) -> int:
        """Close every local socket of one session; returns how many."""
        return _close_all(self.registry.of_session(session_hash), code, reason)

    def close_user(self, user_id: int, code: CloseCode, reason: str) -> int:
        """Close every local socket of one user; returns how many."""
        return _close_all(self.registry.of_user(user_id), code, reason)

    def connections_public(self) -> ConnectionsPublic:
        users = [
            ConnectedUser(user_id=uid, username=next(iter(conns)).principal.username, connections=len(conns))
            for uid, conns in sorted(self.registry.by_user.items())
        ]
        return ConnectionsPublic(users=users, total=len(self.registry))


def _close_all(conns: Iterable[Connection], code: CloseCode, reason: str) -> int:
    n = 0
    for conn in conns:
        if conn.is_open:
            conn.close(code, reason)
            n += 1
    return n
