"""What presence adds to the socket layer: topics ``presence:app`` / ``presence:admin`` and RPCs."""

from __future__ import annotations

from typing import Literal

from productdemo.errors import Forbidden
from productdemo.realtime.connection import Principal
from productdemo.realtime.events import Event
from productdemo.realtime.protocol import CamelModel
from productdemo.realtime.router import Router, RpcContext
from productdemo.services.presence.events import PresenceState
from productdemo.services.presence.service import ADMIN_TOPIC, APP_TOPIC, PresenceService


class ActivityParams(CamelModel):
    status: Literal["active", "idle"]


class StateParams(CamelModel):
    topic: Literal["presence:app", "presence:admin"] = "presence:app"


def register(router: Router, presence: PresenceService) -> None:
    async def may_follow(principal: Principal, topic: str) -> bool:
        """Every signed-in user follows ``presence:app``; only admins ``presence:admin``."""
        return topic == APP_TOPIC or (topic == ADMIN_TOPIC and principal.is_admin)

    async def initial(_principal: Principal, topic: str) -> Event:
        return await presence.state(topic)

    async def activity(ctx: RpcContext, params: ActivityParams) -> dict[str, bool]:
        """This tab had input lately (active) or none for a while (idle)."""
        presence.set_active(ctx.connection_id, params.status == "active")
        return {"ok": True}

    async def state(ctx: RpcContext, params: StateParams) -> PresenceState:
        """The current state again (after a version gap)."""
        if not await may_follow(ctx.principal, params.topic):
            raise Forbidden(f"not allowed to read {params.topic!r}")
        return await presence.state(params.topic)

    router.add_topic("presence", may_follow, initial)
    router.add_rpc("presence.activity", activity, ActivityParams)
    router.add_rpc("presence.state", state, StateParams)
