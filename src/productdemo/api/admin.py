"""Administrator routes: announcements and who is connected."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from productdemo.api.deps import AdminSession, ServicesDep
from productdemo.api.errors import error_responses
from productdemo.realtime.protocol import CamelModel
from productdemo.realtime.registry import ConnectionsPublic
from productdemo.services.notifications.events import Level
from productdemo.services.notifications.service import MAX_LENGTH

router = APIRouter(prefix="/api/admin", tags=["admin"])


# Ids are 64-bit signed integers in every database; a larger one is bad input, not a 500.
MAX_ID = 2**63 - 1


class BroadcastRequest(CamelModel):
    message: str = Field(min_length=1, max_length=MAX_LENGTH * 2)
    user_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    level: Level = "info"


class BroadcastResult(CamelModel):
    sent: bool = True
    id: int = Field(description="The stored notification's id.")


@router.post("/broadcast", responses=error_responses(404))
async def broadcast(body: BroadcastRequest, admin: AdminSession, services: ServicesDep) -> BroadcastResult:
    """Send a notification to everyone, or to one user's sockets."""
    if body.user_id is not None:
        await services.users.get(body.user_id)
    note = await services.notifications.announce(body.message, admin.username, body.user_id, body.level)
    return BroadcastResult(id=note.id)


@router.get("/connections")
async def connections(_admin: AdminSession, services: ServicesDep) -> ConnectionsPublic:
    """Connected users and their socket counts on this instance."""
    return services.hub.connections_public()
