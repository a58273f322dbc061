"""The signed-in user's stored notifications: a page at a time, and marking them read."""

from __future__ import annotations

from typing import Annotated, Self

from fastapi import APIRouter, Query
from pydantic import Field, model_validator

from productdemo.api.deps import CurrentSession, ServicesDep
from productdemo.api.errors import error_responses
from productdemo.realtime.protocol import CamelModel
from productdemo.services.notifications.events import NotificationPage

router = APIRouter(prefix="/api/notifications", tags=["notifications"])

# Ids are 64-bit signed integers in every database; a larger one is bad input, not a 500.
MAX_ID = 2**63 - 1


class ReadRequest(CamelModel):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(default=None, max_length=1000)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.ids is None) == (not self.all):
            raise ValueError('send either "ids" or "all": true')
        return self


class ReadResult(CamelModel):
    unread: int


@router.get("")
async def list_notifications(
    session: CurrentSession,
    services: ServicesDep,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> NotificationPage:
    """The newest notifications (older than ``before``), with the unread count."""
    return await services.notifications.page(session.user_id, before, limit)


@router.post("/read", responses=error_responses(400))
async def mark_read(body: ReadRequest, session: CurrentSession, services: ServicesDep) -> ReadResult:
    """Mark some or all notifications read; every tab of the user is told."""
    unread = await services.notifications.mark_read(session.user_id, None if body.all else body.ids)
    return ReadResult(unread=unread)
