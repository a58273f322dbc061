"""What the accounts module adds to the socket layer: the ``session.info`` RPC method."""

from __future__ import annotations

from typing import Any

from productdemo.realtime.router import Router, RpcContext
from productdemo.services.users.sessions import SessionStore


def register(router: Router, sessions: SessionStore) -> None:
    async def session_info(ctx: RpcContext, _params: Any) -> dict[str, Any]:
        """The caller's user, connection and session expiry."""
        p = ctx.principal
        expired = sessions.is_expired(p.session_hash)
        return {
            "user": {"id": p.user_id, "username": p.username, "role": p.role},
            "connectionId": ctx.connection_id,
            "sessionExpiresIn": None if expired else sessions.seconds_left(p.session_hash),
        }

    router.add_rpc("session.info", session_info)
