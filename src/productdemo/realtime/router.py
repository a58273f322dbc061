"""The validated client-message router: one handler per frame type, one function per RPC method.

Feature modules add what they offer through :meth:`Router.add_rpc` and
:meth:`Router.add_topic`; the realtime layer never imports them. Every failure becomes
an ``error`` frame carrying the request's ``id``; the socket stays open.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from productdemo.errors import DomainError, Forbidden
from productdemo.realtime.connection import Connection, Principal
from productdemo.realtime.events import Event
from productdemo.realtime.history import Position
from productdemo.realtime.hub import Hub
from productdemo.realtime.protocol import (
    AckFrame,
    CloseCode,
    ErrorCode,
    PingFrame,
    PongFrame,
    PongPayload,
    ProtocolError,
    ResumeFrame,
    RpcFrame,
    RpcResultFrame,
    RpcResultPayload,
    SubscribeFrame,
    UnsubscribeFrame,
    describe_validation_error,
    encode,
    error_frame,
    parse_client_frame,
)
from productdemo.realtime.publisher import ALL_STREAM, topic_stream, user_stream

logger = logging.getLogger(__name__)

RPC_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class RpcContext:
    """What an RPC method knows about its caller."""

    principal: Principal
    connection_id: str


RpcHandler = Callable[[RpcContext, Any], Awaitable[Any]]
#: authorize(principal, topic) -> allowed?
TopicAuthorizer = Callable[[Principal, str], Awaitable[bool]]
#: initial(principal, topic) -> the state a new subscriber starts from (sent after the ack), or None.
TopicInitial = Callable[[Principal, str], Awaitable[Event | None]]


@dataclass(frozen=True, slots=True)
class RpcMethod:
    handler: RpcHandler
    params: type[BaseModel] | None
    admin_only: bool


class Router:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._methods: dict[str, RpcMethod] = {}
        self._topics: dict[str, TopicAuthorizer] = {}
        self._initial: dict[str, TopicInitial] = {}
        self._handlers: dict[str, Callable[[Connection, Any], Awaitable[None]]] = {
            "ping": self._ping,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "resume": self._resume,
            "rpc": self._rpc,
        }

    # --- registration -----------------------------------------------------------------

    def add_rpc(
        self, name: str, handler: RpcHandler, params: type[BaseModel] | None = None, admin_only: bool = False
    ) -> None:
        """Offer an RPC method. ``params`` validates the call's ``params`` object.

        Raises:
            ValueError: the name is taken.
        """
        if name in self._methods:
            raise ValueError(f"RPC method {name!r} is already registered")
        self._methods[name] = RpcMethod(handler, params, admin_only)

    def add_topic(self, kind: str, authorize: TopicAuthorizer, initial: TopicInitial | None = None) -> None:
        """Allow topics ``<kind>:<name>``, each subscription checked by ``authorize``.

        ``initial``, if given, returns the state a subscriber starts from; it is sent to
        that socket alone right after the ack, as an event frame with the topic's stream
        and no ``seq`` (it is not part of the stream's history).
        """
        if kind in self._topics:
            raise ValueError(f"topic kind {kind!r} is already registered")
        self._topics[kind] = authorize
        if initial is not None:
            self._initial[kind] = initial

    # --- dispatch ---------------------------------------------------------------------

    async def handle_text(self, conn: Connection, text: str) -> None:
        """Rate-limit, parse, validate and dispatch one client frame."""
        self.hub.metrics.messages_in += 1
        if not conn.bucket.take():
            if conn.bucket.abusive:
                conn.close(CloseCode.RATE_LIMITED, "rate limit abused")
            else:
                conn.send(error_frame("rate_limited", "too many messages; slow down"))
            return
        if conn.debug:
            logger.debug("%s < %s", conn.id, text[:200])
        frame_id: str | int | None = None
        try:
            frame = parse_client_frame(text)
            frame_id = frame.id
            await self._handlers[frame.type](conn, frame)
        except ProtocolError as exc:
            conn.send(error_frame(exc.code, exc.message, exc.frame_id))
        except DomainError as exc:
            conn.send(error_frame(_code(exc), exc.message, frame_id))
        except TimeoutError:
            conn.send(error_frame("internal", "the request timed out", frame_id))
        except Exception:
            logger.exception("%s internal error handling a frame (user=%s)", conn.id, conn.principal.user_id)
            conn.send(error_frame("internal", "internal error", frame_id))

    def refuse_binary(self, conn: Connection) -> None:
        if conn.bucket.take():
            conn.send(error_frame("bad_request", "binary frames are not supported; send JSON text frames"))
        elif conn.bucket.abusive:
            conn.close(CloseCode.RATE_LIMITED, "rate limit abused")

    async def _ping(self, conn: Connection, frame: PingFrame) -> None:
        conn.send(
            encode(PongFrame(id=frame.id, payload=PongPayload(server_time=time.time_ns() // 1_000_000)))
        )

    async def _subscribe(self, conn: Connection, frame: SubscribeFrame) -> None:
        topic = frame.payload.topic
        kind = topic.split(":", 1)[0]
        authorize = self._topics.get(kind)
        if authorize is None:
            raise ProtocolError("not_found", f"no such topic kind {kind!r}", frame.id)
        if not await authorize(conn.principal, topic):
            raise Forbidden(f"not allowed to subscribe to {topic!r}")
        if topic not in conn.topics and len(conn.topics) >= MAX_TOPICS_PER_CONNECTION:
            raise ProtocolError(
                "bad_request", f"at most {MAX_TOPICS_PER_CONNECTION} topics per connection", frame.id
            )
        pos = await self.hub.subscribe(conn, topic)
        conn.send(
            encode(
                AckFrame(
                    id=frame.id,
                    payload={
                        "topic": topic,
                        "stream": topic_stream(topic),
                        "epoch": pos.epoch,
                        "seq": pos.seq,
                    },
                )
            )
        )
        initial = self._initial.get(kind)
        if initial is not None and (state := await initial(conn.principal, topic)) is not None:
            conn.send(state_frame(state, topic_stream(topic)))

    async def _unsubscribe(self, conn: Connection, frame: UnsubscribeFrame) -> None:
        topic = frame.payload.topic
        await self.hub.unsubscribe(conn, topic)
        conn.send(encode(AckFrame(id=frame.id, payload={"topic": topic})))

    async def _resume(self, conn: Connection, frame: ResumeFrame) -> None:
        own = {user_stream(conn.principal.user_id), ALL_STREAM}
        streams = frame.payload.streams
        for stream in streams:
            if stream not in own and not (stream.startswith("topic:") and stream[6:] in conn.topics):
                raise Forbidden(f"cannot resume {stream!r}: not a stream of this connection")
        positions = {s: Position(p.epoch, p.seq) for s, p in streams.items()}
        result = await self.hub.resume(conn, positions)
        conn.send(encode(AckFrame(id=frame.id, payload={"streams": result})))

    async def _rpc(self, conn: Connection, frame: RpcFrame) -> None:
        name = frame.payload.method
        method = self._methods.get(name)
        if method is None:
            raise ProtocolError("unknown_method", f"no such method {name!r}", frame.id)
        if method.admin_only and not conn.principal.is_admin:
            raise Forbidden(f"{name} is for administrators")
        params: Any = frame.payload.params
        if method.params is not None:
            try:
                params = method.params.model_validate(params)
            except ValidationError as exc:
                raise ProtocolError("bad_request", describe_validation_error(exc), frame.id) from None
        async with asyncio.timeout(RPC_TIMEOUT):
            result = await method.handler(RpcContext(conn.principal, conn.id), params)
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json", by_alias=True)
        conn.send(encode(RpcResultFrame(id=frame.id, payload=RpcResultPayload(result=result))))


MAX_TOPICS_PER_CONNECTION = 100


def state_frame(event: Event, stream: str) -> bytes:
    """An event frame for one socket only: the stream it belongs to, but no ``seq``."""
    payload = event.model_dump(mode="json", by_alias=True)
    return orjson.dumps({"type": event.event_type, "payload": payload, "stream": stream})


def _code(exc: DomainError) -> ErrorCode:
    return exc.code  # type: ignore[return-value]


def register_core(router: Router) -> None:
    """The realtime layer's own RPC methods and topics."""

    async def connections_list(_ctx: RpcContext, _params: Any) -> BaseModel:
        """Connected users and their socket counts on this instance."""
        return router.hub.connections_public()

    async def admins_only(principal: Principal, _topic: str) -> bool:
        return principal.is_admin

    router.add_rpc("connections.list", connections_list, admin_only=True)
    router.add_topic("admin", admins_only)
