"""Wire protocol v1: frame models, parsing and serialization, close and error codes.

Pure: no awaits, no sockets. Text in, typed frames out (or :class:`ProtocolError`);
typed frames in, bytes out.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

PROTOCOL_VERSION = 1


class CloseCode(enum.IntEnum):
    GOING_AWAY = 1001  # server restarting or deploying: reconnect and resume
    INVALID_DATA = 1007  # a text frame that is not UTF-8: a client bug, do not reconnect
    POLICY_VIOLATION = 1008  # the client broke a rule that reconnecting will not fix
    MESSAGE_TOO_BIG = 1009  # a client frame exceeded [realtime] max_message_size
    TRY_AGAIN_LATER = 1013  # a service the socket needs (the broker) is down: reconnect with back-off
    SESSION_ENDED = 4401  # logout, expiry or revocation: sign in again
    ACCESS_WITHDRAWN = 4403  # access withdrawn while the session lives on: do not reconnect
    TOO_SLOW = 4408  # the socket could not keep up: reconnect and resume from history
    RATE_LIMITED = 4429  # sustained flooding: reconnect after a longer back-off


ErrorCode = Literal[
    "bad_request",
    "unknown_type",
    "unknown_method",
    "forbidden",
    "not_found",
    "rate_limited",
    "too_large",
    "unauthorized",
    "conflict",
    "unsupported_media",
    "unavailable",
    "internal",
]

# Bounds on client-chosen strings, so one frame cannot grow server state much.
MAX_ID_LENGTH = 64
MAX_TOPIC_LENGTH = 200
MAX_RESUME_STREAMS = 256
TOPIC_PATTERN = r"^[a-z][a-z0-9_]*(:[A-Za-z0-9_.\-]+)+$"
STREAM_PATTERN = r"^(all|user:[0-9]+|topic:[a-z][a-z0-9_]*(:[A-Za-z0-9_.\-]+)+)$"
METHOD_PATTERN = r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$"


class CamelModel(BaseModel):
    """Python attributes in snake_case, JSON keys in camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


FrameId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)] | Annotated[int, Field(ge=0)]


# --- client -> server -------------------------------------------------------------


class TopicPayload(CamelModel):
    topic: str = Field(max_length=MAX_TOPIC_LENGTH, pattern=TOPIC_PATTERN)


class StreamPosition(CamelModel):
    epoch: str = Field(max_length=64)
    seq: int = Field(ge=0)


class ResumePayload(CamelModel):
    streams: dict[
        Annotated[str, Field(max_length=MAX_TOPIC_LENGTH + 6, pattern=STREAM_PATTERN)], StreamPosition
    ] = Field(max_length=MAX_RESUME_STREAMS)


class RpcPayload(CamelModel):
    method: str = Field(max_length=64, pattern=METHOD_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)


class PingFrame(CamelModel):
    """Client heartbeat; answered with ``pong``."""

    type: Literal["ping"]
    id: FrameId | None = None


class SubscribeFrame(CamelModel):
    """Join a topic's stream; answered with ``ack`` (or ``error`` ``forbidden``)."""

    type: Literal["subscribe"]
    id: FrameId | None = None
    payload: TopicPayload


class UnsubscribeFrame(CamelModel):
    """Leave a topic's stream; answered with ``ack``."""

    type: Literal["unsubscribe"]
    id: FrameId | None = None
    payload: TopicPayload


class ResumeFrame(CamelModel):
    """Replay what was missed since the given positions; answered with ``ack``."""

    type: Literal["resume"]
    id: FrameId | None = None
    payload: ResumePayload


class RpcFrame(CamelModel):
    """Call a registered method; answered with ``rpc_result`` (or ``error``)."""

    type: Literal["rpc"]
    id: FrameId | None = None
    payload: RpcPayload


ClientFrame = Annotated[
    PingFrame | SubscribeFrame | UnsubscribeFrame | ResumeFrame | RpcFrame, Field(discriminator="type")
]
CLIENT_FRAME_TYPES = ("ping", "subscribe", "unsubscribe", "resume", "rpc")
_client_frame: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


class ProtocolError(Exception):
    """A client frame that cannot be accepted; becomes an ``error`` frame."""

    def __init__(self, code: ErrorCode, message: str, frame_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.frame_id = frame_id

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def parse_client_frame(data: str) -> ClientFrame:
    """Parse and validate one client text frame.

    Raises:
        ProtocolError: invalid JSON, not an object, unknown ``type`` or a bad payload.
    """
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("bad_request", f"invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ProtocolError("bad_request", "a frame must be a JSON object")
    frame_id = raw.get("id")
    if not _is_valid_id(frame_id):
        raise ProtocolError(
            "bad_request", f"'id' must be a string of 1-{MAX_ID_LENGTH} characters or an integer"
        )
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_request", "missing 'type'", frame_id)
    if kind not in CLIENT_FRAME_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"unknown type {kind[:40]!r}; expected one of {', '.join(CLIENT_FRAME_TYPES)}",
            frame_id,
        )
    try:
        return _client_frame.validate_python(raw)
    except ValidationError as exc:
        raise ProtocolError("bad_request", describe_validation_error(exc), frame_id) from None


def _is_valid_id(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each bad field, e.g. ``payload.topic: String should match pattern``."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"] if p not in CLIENT_FRAME_TYPES)
        parts.append(f"{loc or 'frame'}: {err['msg']}")
    return "; ".join(parts)


# --- server -> client ---------------------------------------------------------------


class UserPublic(CamelModel):
    id: int
    username: str
    role: Literal["admin", "user"]


class HelloPayload(CamelModel):
    connection_id: str
    user: UserPublic
    protocol: int = PROTOCOL_VERSION
    heartbeat_interval: float = Field(description="Seconds between server pings.")
    server_time: int = Field(description="Milliseconds since the Unix epoch.")
    streams: dict[str, StreamPosition]


class HelloFrame(CamelModel):
    """First frame after the upgrade."""

    type: Literal["hello"] = "hello"
    payload: HelloPayload


class AckFrame(CamelModel):
    """Reply to ``subscribe``, ``unsubscribe`` and ``resume``."""

    type: Literal["ack"] = "ack"
    id: FrameId | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class RpcResultPayload(CamelModel):
    result: Any


class RpcResultFrame(CamelModel):
    """Reply to ``rpc``."""

    type: Literal["rpc_result"] = "rpc_result"
    id: FrameId | None = None
    payload: RpcResultPayload


class PongPayload(CamelModel):
    server_time: int


class PongFrame(CamelModel):
    """Reply to ``ping``."""

    type: Literal["pong"] = "pong"
    id: FrameId | None = None
    payload: PongPayload


class ErrorPayload(CamelModel):
    code: ErrorCode
    message: str


class ErrorFrame(CamelModel):
    """A request could not be served; the socket stays open."""

    type: Literal["error"] = "error"
    id: FrameId | None = None
    payload: ErrorPayload


class ResyncPayload(CamelModel):
    stream: str
    epoch: str
    seq: int
    reason: str


class ResyncRequiredFrame(CamelModel):
    """History no longer reaches back: refetch the stream's state over REST, then continue from here."""

    type: Literal["resync_required"] = "resync_required"
    payload: ResyncPayload


class SkippedPayload(CamelModel):
    stream: str
    seqs: list[int]


class SkippedFrame(CamelModel):
    """These seqs of a stream were superseded by newer state while the socket was stalled
    (conflation): they will not arrive and are not a gap."""

    type: Literal["skipped"] = "skipped"
    payload: SkippedPayload


SERVER_CONTROL_FRAMES: tuple[type[CamelModel], ...] = (
    HelloFrame,
    AckFrame,
    RpcResultFrame,
    PongFrame,
    ErrorFrame,
    ResyncRequiredFrame,
    SkippedFrame,
)


def encode(frame: BaseModel) -> bytes:
    """Serialize a server frame to JSON bytes (camelCase keys, no ``None`` ids)."""
    return orjson.dumps(frame.model_dump(mode="json", by_alias=True, exclude_none=True))


def error_frame(code: ErrorCode, message: str, frame_id: str | int | None = None) -> bytes:
    return encode(ErrorFrame(id=frame_id, payload=ErrorPayload(code=code, message=message)))


def skipped_frame(stream: str, seqs: list[int]) -> bytes:
    return orjson.dumps({"type": "skipped", "payload": {"stream": stream, "seqs": seqs}})


def event_frame(event_type: str, payload_json: bytes, stream: str, seq: int) -> bytes:
    """Build an event frame from a payload encoded once per publish.

    ``event_type`` and ``stream`` are validated names (no characters JSON must escape),
    so the frame is assembled by concatenation instead of a second ``dumps``.
    """
    return b"".join(
        (
            b'{"type":"',
            event_type.encode(),
            b'","payload":',
            payload_json,
            b',"stream":"',
            stream.encode(),
            b'","seq":',
            str(seq).encode(),
            b"}",
        )
    )
