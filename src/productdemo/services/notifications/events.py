"""Events the notifications service publishes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from productdemo.realtime.events import Event

Level = Literal["info", "warning"]


class Notification(Event):
    """A message for people to read; rendered as text, never as markup."""

    event_type = "notification"
    message: str
    # ``from`` is a Python keyword, so the attribute has another name.
    sender: str = Field(alias="from")
    created_at: str = Field(description="ISO 8601 time the message was sent.")
    level: Level = "info"
