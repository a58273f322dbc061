"""The opening handshake (RFC 6455 section 4.2), checked on the head httptools already parsed.

uvicorn hands an upgrade to its WebSocket protocol by re-serialising the parsed request
and feeding it to the ``websockets`` parser, which parses it again and builds a response
through its ``Headers`` machinery: about 40 % of an upgrade's cost (``docs/performance.md``).
The checks that matter are few and are done here on the parsed header list; the 101
answer is a few bytes put together once the app accepts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from http import HTTPStatus

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# The longest header line accepted, as the ``websockets`` parser had it: an 8 KiB cookie
# is refused with 431 rather than carried around for the socket's life.
MAX_LINE = 8192

Headers = list[tuple[bytes, bytes]]


class Refusal(Exception):
    """An upgrade that is not a valid WebSocket opening handshake."""

    def __init__(self, status: int, reason: str, headers: Headers | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []


def check(method: bytes, headers: Headers) -> bytes:
    """The ``Sec-WebSocket-Accept`` value for a valid upgrade request; raises :class:`Refusal`.

    ``headers`` are httptools' (names lower-cased). ``Connection: Upgrade`` and
    ``Upgrade: websocket`` were checked by uvicorn before it called the upgrade.
    """
    if method != b"GET":
        raise Refusal(405, "a WebSocket upgrade must be a GET request", [(b"allow", b"GET")])
    keys: list[bytes] = []
    versions: list[bytes] = []
    for name, value in headers:
        if len(name) + len(value) + 2 > MAX_LINE:
            raise Refusal(431, f"header line {name.decode('latin-1')!r} over {MAX_LINE} bytes")
        if name == b"sec-websocket-key":
            keys.append(value)
        elif name == b"sec-websocket-version":
            versions.append(value)
    if versions != [b"13"]:
        raise Refusal(426, "Sec-WebSocket-Version must be 13", [(b"sec-websocket-version", b"13")])
    if len(keys) != 1 or not _valid_key(keys[0]):
        raise Refusal(400, "invalid Sec-WebSocket-Key header")
    return base64.b64encode(hashlib.sha1(keys[0] + GUID).digest())


def _valid_key(key: bytes) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        return False


def subprotocols(headers: Headers) -> list[str]:
    """The subprotocols the client offers, in its order (for the ASGI scope)."""
    offered: list[str] = []
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            offered += [token.strip() for token in value.decode("latin-1").split(",") if token.strip()]
    return offered


def switching_protocols(accept: bytes, headers: Headers) -> bytes:
    """The 101 answer, with ``headers`` (the server's defaults and the app's) after ours."""
    lines = [
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n"
    ]
    lines += [name + b": " + value + b"\r\n" for name, value in headers]
    lines.append(b"\r\n")
    return b"".join(lines)


def refusal_response(refused: Refusal) -> bytes:
    """A complete HTTP/1.1 answer to a refused upgrade; the connection is closed after it."""
    body = f"Failed to open a WebSocket connection: {refused.reason}.\n".encode()
    head = [f"HTTP/1.1 {refused.status} {HTTPStatus(refused.status).phrase}\r\n".encode()]
    head += [name + b": " + value + b"\r\n" for name, value in refused.headers]
    head.append(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
        % len(body)
    )
    return b"".join(head) + body
