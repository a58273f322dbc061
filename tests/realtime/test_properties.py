"""Property tests of realtime/protocol.py and realtime/router.py: any input, a typed answer.

Arbitrary JSON, wrong types, deep nesting, huge numbers and lone surrogates are fed to
the frame parser and to the router; the parser returns a valid frame or raises
``ProtocolError``, and the router answers every frame with frames that encode, never
with an exception or an ``internal`` error.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings, strategies as st

from productdemo.config import RealtimeSettings
from productdemo.realtime.broker import MemoryBroker
from productdemo.realtime.connection import Principal
from productdemo.realtime.history import MemoryHistory
from productdemo.realtime.hub import Hub
from productdemo.realtime.protocol import CLIENT_FRAME_TYPES, ProtocolError, error_frame, parse_client_frame
from productdemo.realtime.router import Router, register_core
from tests.support import RecordingTransport, parse_frame

# Every code point, lone surrogates included.
ANY_CHAR = st.characters(codec=None, categories=None)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(ANY_CHAR, max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(ANY_CHAR, max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "topic": JSON | st.text(max_size=30),
        "method": JSON | st.sampled_from(["connections.list", "no.such", ""]),
        "params": JSON,
        "streams": JSON
        | st.dictionaries(st.text(max_size=10), st.fixed_dictionaries({"epoch": JSON, "seq": JSON})),
    },
)
FRAMES = st.fixed_dictionaries(
    {"type": st.sampled_from([*CLIENT_FRAME_TYPES, "teleport"]) | JSON},
    optional={"id": JSON | st.text(max_size=80), "payload": PAYLOADS | JSON},
)


def _deep(depth: int) -> str:
    return '{"type":"ping","id":"d","payload":' + "[" * depth + "]" * depth + "}"


TEXTS = (
    FRAMES.map(lambda f: json.dumps(f))  # stdlib: big integers, lone surrogates as \ud800 escapes
    | JSON.map(lambda v: json.dumps(v))
    | st.text(ANY_CHAR, max_size=200)
    | st.integers(0, 5000).map(_deep)
)


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_parser_returns_a_frame_or_a_typed_error(text: str) -> None:
    """parse_client_frame gives a frame or a ProtocolError whose error frame encodes."""
    try:
        frame = parse_client_frame(text)
    except ProtocolError as exc:
        reply = orjson.loads(error_frame(exc.code, exc.message, exc.frame_id))
        assert reply["type"] == "error" and reply["payload"]["code"] in ("bad_request", "unknown_type")
    else:
        assert frame.type in CLIENT_FRAME_TYPES


def _payloads(written: list[bytes]) -> list[dict[str, Any]]:
    frames, buf = [], b"".join(written)
    while (parsed := parse_frame(buf)) is not None:
        (_, payload), size = parsed
        frames.append(orjson.loads(payload))
        buf = buf[size:]
    assert not buf
    return frames


async def _route(texts: list[str]) -> tuple[list[dict[str, Any]], RecordingTransport]:
    rt = RealtimeSettings(rate_limit=1e9, rate_burst=10**9)
    hub = Hub(MemoryBroker(MemoryHistory(rt.history_size, rt.history_ttl)), rt)
    router = Router(hub)
    register_core(router)
    transport = RecordingTransport()
    conn = hub.new_connection(Principal(1, "ann", "user", "h"), transport)
    for text in texts:
        await router.handle_text(conn, text)
        conn.flush()
    return _payloads(transport.written), transport


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXTS, min_size=1, max_size=5))
def test_router_answers_every_frame_without_an_internal_error(texts: list[str]) -> None:
    """Every frame gets replies that decode; none is 'internal'; the socket stays open."""
    replies, transport = asyncio.run(_route(texts))
    assert transport.closed is None
    assert len(replies) >= len(texts)
    for reply in replies:
        assert reply["type"] in ("error", "pong", "ack", "rpc_result", "resync_required")
        if reply["type"] == "error":
            assert reply["payload"]["code"] != "internal", reply
