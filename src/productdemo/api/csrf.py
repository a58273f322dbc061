"""Cross-site request protection for state-changing REST requests (pure ASGI middleware).

A POST, PUT, PATCH or DELETE under ``/api`` must come from an allowed origin: its
``Origin`` (or, failing that, ``Referer``) is checked with the same policy as the
WebSocket upgrade. A request with neither header is let through only if it carries no
session cookie, since without the cookie a forged request has no authority to abuse.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from productdemo.cookies import AmbiguousCookie, session_token
from productdemo.origins import OriginPolicy

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CrossSiteGuard:
    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = dict(scope["headers"])
        host = _text(headers.get(b"host"))
        origin = _text(headers.get(b"origin"))
        scheme = scope.get("scheme", "http")
        if origin is not None:
            allowed = self.policy.allows(origin, host, scheme)
        elif (referer := _text(headers.get(b"referer"))) is not None:
            allowed = self.policy.allows_referer(referer, host, scheme)
        else:
            allowed = not _has_session_cookie(scope)
        if allowed:
            await self.app(scope, receive, send)
            return
        await _forbidden(send)


def _has_session_cookie(scope: Scope) -> bool:
    try:
        return session_token(scope["headers"]) is not None
    except AmbiguousCookie:
        return True


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


async def _forbidden(send: Send) -> None:
    body = b'{"detail":"cross-site request refused: origin not allowed","code":"forbidden"}'
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": 403,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
