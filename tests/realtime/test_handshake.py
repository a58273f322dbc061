"""realtime/handshake.py: the upgrade is checked on httptools' parse, never parsed a second time."""

from __future__ import annotations

import asyncio

import pytest
import uvicorn
from uvicorn.server import ServerState
from websockets.http11 import Request

from productdemo.realtime import handshake
from productdemo.realtime.keepalive import KeepaliveWheel
from productdemo.realtime.peer import FrameLimits
from productdemo.realtime.transport import DirectWebSocketProtocol
from productdemo.request_head import HeadGuard, HeadLimits
from tests.support import MS, LiveServer, recv_type

# RFC 6455 section 1.3's example key and its accept value.
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def _headers(**overrides: bytes | None) -> handshake.Headers:
    base: dict[str, bytes | None] = {"sec-websocket-key": KEY, "sec-websocket-version": b"13", "host": b"x"}
    base.update(overrides)
    return [(name.replace("_", "-").encode(), value) for name, value in base.items() if value is not None]


def test_accept_value_is_rfc_6455s() -> None:
    assert handshake.check(b"GET", _headers()) == ACCEPT


@pytest.mark.parametrize(
    ("method", "overrides", "status"),
    [
        (b"POST", {}, 405),
        (b"GET", {"sec-websocket-version": b"8"}, 426),
        (b"GET", {"sec-websocket-version": None}, 426),
        (b"GET", {"sec-websocket-key": None}, 400),
        (b"GET", {"sec-websocket-key": b"not base64!"}, 400),
        (b"GET", {"sec-websocket-key": b"c2hvcnQ="}, 400),  # 5 bytes, not 16
        (b"GET", {"cookie": b"a" * 8192}, 431),
    ],
)
def test_invalid_upgrades_are_refused(method: bytes, overrides: dict[str, bytes | None], status: int) -> None:
    with pytest.raises(handshake.Refusal) as info:
        handshake.check(method, _headers(**overrides))
    assert info.value.status == status


def test_two_keys_are_refused() -> None:
    with pytest.raises(handshake.Refusal):
        handshake.check(b"GET", [*_headers(), (b"sec-websocket-key", KEY)])


def test_subprotocols_in_offered_order() -> None:
    headers = [(b"sec-websocket-protocol", b"a, b"), (b"sec-websocket-protocol", b"c")]
    assert handshake.subprotocols(headers) == ["a", "b", "c"]


async def _exchange(server: LiveServer, head: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(head)
    try:
        async with asyncio.timeout(5000 * MS):
            return await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()


async def test_live_refusals_answer_and_close(server: LiveServer) -> None:
    """A bad version gets 426 with the version the server speaks, before any app code runs."""
    head = (
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: " + KEY + b"\r\n\r\n"
    )
    answer = await _exchange(server, head)
    assert answer.startswith(b"HTTP/1.1 426 ")
    assert b"\r\nsec-websocket-version: 13\r\n" in answer


async def test_upgrade_is_not_parsed_twice(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """An authenticated socket opens with the ``websockets`` request parser out of order."""

    def no_second_parse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the upgrade request was parsed again")

    monkeypatch.setattr(Request, "parse", no_second_parse)
    _, cookie = await server.user_session()
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await ws.ping()


class _Transport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def get_extra_info(self, _name: str, default: object = None) -> object:
        return default

    def is_closing(self) -> bool:
        return self.closed

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True


async def test_a_raw_upgrade_from_another_http_protocol_gets_500_not_silence() -> None:
    """Paired with uvicorn's own HTTP protocol (misconfigured), the upgrade is answered and closed."""
    config = uvicorn.Config(app=lambda *_: None, log_config=None, ws_per_message_deflate=False)
    config.load()
    protocol = DirectWebSocketProtocol(
        config=config,
        server_state=ServerState(),
        app_state={},
        guard=HeadGuard(HeadLimits()),
        frame_limits=FrameLimits(),
        keepalive=KeepaliveWheel(20.0),
    )
    transport = _Transport()
    protocol.connection_made(transport)
    assert transport.written.startswith(b"HTTP/1.1 500 ") and transport.closed
