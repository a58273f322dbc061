"""Request bodies are capped before they are read (pure ASGI middleware).

A body that declares more than its route's limit in ``Content-Length`` is refused with
413 at once, unread, and the connection is closed; a chunked body is counted as it
streams and stopped at the limit with the same 413. JSON routes get a small limit
(``[server] max_json_body``); the upload route gets room for ``MAX_FILES`` files of
``[documents] max_upload_size`` each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Multipart framing around the files: boundaries, part headers, names.
MULTIPART_OVERHEAD = 65_536


class BodyTooLarge(HTTPException):
    """The body went past its limit while being read (an HTTPException so FastAPI passes it on)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, default: int, routes: Mapping[tuple[str, str], int]) -> None:
        self.app = app
        self.default = default
        self.routes = routes

    def limit_for(self, scope: Scope) -> int:
        return self.routes.get((scope["method"], scope["path"].rstrip("/")), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await send_too_large(send, f"the request body is {declared} bytes; the limit is {limit} bytes")
            return
        received = 0
        finished = declared == 0

        async def counted() -> Message:
            nonlocal received, finished
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                finished = not message.get("more_body", False)
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def closing(message: Message) -> None:
            # Answered before the whole body was read (a 401, a 413): close the connection
            # rather than let the server read and discard the rest.
            if message["type"] == "http.response.start" and not finished:
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, counted, closing)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def send_too_large(send: Send, detail: str) -> None:
    """A 413 in the API's error shape; ``Connection: close`` so the rest is never read."""
    body = orjson.dumps({"detail": detail, "code": "too_large"})
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
