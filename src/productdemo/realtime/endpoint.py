"""The ``/ws`` endpoint: refuse at the door, then read frames until the socket goes.

A raw ASGI callable rather than a FastAPI route: the upgrade is checked (Origin, then
the session cookie) before anything else runs, and a refusal is a plain HTTP 403 or 401
sent with the ASGI WebSocket denial-response extension, before any WebSocket exists.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from productdemo.errors import DomainError
from productdemo.origins import OriginPolicy
from productdemo.realtime.connection import Principal
from productdemo.realtime.hub import Hub
from productdemo.realtime.protocol import CloseCode
from productdemo.realtime.router import Router
from productdemo.realtime.transport import EXTENSION, DirectWebSocketProtocol

logger = logging.getLogger(__name__)

COOKIE_NAME = "connect.sid"

#: authenticate(signed cookie value) -> the principal, or None for no valid session.
Authenticate = Callable[[str], Awaitable[Principal | None]]
#: on_activity(principal): a client message arrived (slides the session's expiry).
OnActivity = Callable[[Principal], None]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def read_cookie(header: str, name: str = COOKIE_NAME) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, or None."""
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip('"')
    return None


class WebSocketEndpoint:
    def __init__(
        self,
        hub: Hub,
        router: Router,
        authenticate: Authenticate,
        on_activity: OnActivity,
        origins: OriginPolicy,
    ) -> None:
        self.hub = hub
        self.router = router
        self.authenticate = authenticate
        self.on_activity = on_activity
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        cookie = origin = host = None
        for key, value in scope["headers"]:
            if key == b"cookie":
                cookie = value.decode("latin-1")
            elif key == b"origin":
                origin = value.decode("latin-1")
            elif key == b"host":
                host = value.decode("latin-1")
        client = scope.get("client")
        if not self.origins.allows(origin, host, scope.get("scheme", "ws")):
            logger.info("upgrade refused 403: origin %r not allowed (client %s)", origin, client)
            self.hub.metrics.refused_upgrades[403] += 1
            await _deny(send, 403, "origin not allowed")
            return
        token = read_cookie(cookie) if cookie else None
        principal = await self.authenticate(token) if token else None
        if principal is None:
            logger.info("upgrade refused 401: %s session (client %s)", "invalid" if token else "no", client)
            self.hub.metrics.refused_upgrades[401] += 1
            await _deny(send, 401, "sign in first")
            return
        transport = scope["extensions"].get(EXTENSION)
        if not isinstance(transport, DirectWebSocketProtocol):
            logger.error("/ws needs uvicorn with ws=productdemo.realtime.transport.DirectWebSocketProtocol")
            await _deny(send, 500, "server misconfigured")
            return
        await send({"type": "websocket.accept"})
        conn = self.hub.new_connection(principal, transport)
        transport.connection = conn
        code: int | None = None
        try:
            # Inside the try: however registering fails, unregister undoes what it did.
            try:
                await self.hub.register(conn)
            except DomainError as exc:
                logger.warning("%s could not be registered: %s", conn.id, exc)
                conn.close(CloseCode.TRY_AGAIN_LATER, "service unavailable, try again later")
            except Exception:
                logger.exception("%s could not be registered", conn.id)
                conn.close(CloseCode.TRY_AGAIN_LATER, "internal error, try again later")
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    code = message.get("code")
                    break
                text = message.get("text")
                if text is None:
                    self.router.refuse_binary(conn)
                else:
                    await self.router.handle_text(conn, text)
                    self.on_activity(principal)
        finally:
            transport.connection = None
            await self.hub.unregister(conn, code)


async def _deny(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "websocket.http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})
