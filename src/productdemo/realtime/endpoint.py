"""The ``/ws`` endpoint: refuse at the door, then read frames until the socket goes.

A raw ASGI callable rather than a FastAPI route: the upgrade is checked (Origin, then
the session cookie) before anything else runs, and a refusal is a plain HTTP 403 or 401
sent with the ASGI WebSocket denial-response extension, before any WebSocket exists.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from productdemo.cookies import AmbiguousCookie, session_token
from productdemo.errors import DomainError
from productdemo.origins import OriginPolicy
from productdemo.realtime.connection import Principal
from productdemo.realtime.hub import Hub
from productdemo.realtime.protocol import CloseCode
from productdemo.realtime.quota import SocketQuota
from productdemo.realtime.router import Router
from productdemo.realtime.transport import EXTENSION, DirectWebSocketProtocol

logger = logging.getLogger(__name__)

#: authenticate(signed cookie value) -> the principal, or None for no valid session.
Authenticate = Callable[[str], Awaitable[Principal | None]]
#: on_activity(principal): a client message arrived (slides the session's expiry).
OnActivity = Callable[[Principal], None]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class WebSocketEndpoint:
    def __init__(
        self,
        hub: Hub,
        router: Router,
        authenticate: Authenticate,
        on_activity: OnActivity,
        origins: OriginPolicy,
        quota: SocketQuota,
    ) -> None:
        self.hub = hub
        self.router = router
        self.authenticate = authenticate
        self.on_activity = on_activity
        self.origins = origins
        self.quota = quota

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        origin = host = None
        for key, value in scope["headers"]:
            if key == b"origin":
                origin = value.decode("latin-1")
            elif key == b"host":
                host = value.decode("latin-1")
        client = scope.get("client")
        if not self.origins.allows(origin, host, scope.get("scheme", "ws")):
            logger.info("upgrade refused 403: origin %r not allowed (client %s)", origin, client)
            await self._deny(send, 403, "origin not allowed")
            return
        try:
            token = session_token(scope["headers"])
        except AmbiguousCookie as exc:
            logger.info("upgrade refused 400: ambiguous session cookie (client %s)", client)
            await self._deny(send, 400, exc.message)
            return
        principal = await self.authenticate(token) if token else None
        if principal is None:
            logger.info("upgrade refused 401: %s session (client %s)", "invalid" if token else "no", client)
            await self._deny(send, 401, "sign in first")
            return
        # The upgrade's headers (its cookie among them) are not kept for the socket's life:
        # about 1 KiB of every idle socket (docs/performance.md). Nothing reads them later.
        scope["headers"] = []
        address = client[0] if client else "?"
        refused = self.quota.acquire(principal.user_id, address)
        if refused is not None:
            logger.info("upgrade refused 429: user=%s address=%s: %s", principal.user_id, address, refused)
            await self._deny(send, 429, refused)
            return
        try:
            await self._serve(scope, receive, send, principal)
        finally:
            self.quota.release(principal.user_id, address)

    async def _deny(self, send: Send, status: int, text: str) -> None:
        self.hub.metrics.refused_upgrades[status] += 1
        await _deny(send, status, text)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, principal: Principal) -> None:
        transport = scope["extensions"].get(EXTENSION)
        if not isinstance(transport, DirectWebSocketProtocol):
            logger.error("/ws needs uvicorn with ws=productdemo.realtime.transport.DirectWebSocketProtocol")
            await _deny(send, 500, "server misconfigured")
            return
        await send({"type": "websocket.accept"})
        conn = self.hub.new_connection(principal, transport)
        transport.attach(conn)
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
            transport.attach(None)
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
