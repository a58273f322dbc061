"""Events the notifications service publishes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from productdemo.realtime.events import Event
from productdemo.realtime.protocol import CamelModel

Level = Literal["info", "warning"]
#: What a notification is about: an administrator's message, a document's or an MCP install's outcome.
Kind = Literal["announcement", "document_ready", "document_failed", "mcp_install_finished"]


class Notification(Event):
    """A message for people to read; rendered as text, never as markup."""

    event_type = "notification"
    id: int = Field(description="The stored notification's id (GET /api/notifications).")
    kind: Kind = "announcement"
    message: str
    # ``from`` is a Python keyword, so the attribute has another name.
    sender: str = Field(alias="from")
    created_at: str = Field(description="ISO 8601 time the message was sent.")
    level: Level = "info"
    link: str | None = Field(default=None, description="An app path the notification is about.")


class NotificationsRead(Event):
    """Some (or all) of the user's notifications were marked read, in any of their tabs."""

    event_type = "notifications_read"
    ids: list[int]
    all: bool = Field(description="True when everything up to now was marked read.")
    unread: int = Field(ge=0, description="How many stay unread.")


class NotificationPublic(CamelModel):
    """One stored notification as the list returns it."""

    id: int
    kind: Kind
    message: str
    sender: str = Field(alias="from")
    level: Level
    created_at: str
    read: bool
    link: str | None = None


class NotificationPage(CamelModel):
    notifications: list[NotificationPublic]
    unread: int
