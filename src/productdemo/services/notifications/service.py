"""Announcements: an administrator's message to everyone or to one user."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from productdemo.errors import BadRequest
from productdemo.realtime.publisher import Publisher
from productdemo.services.notifications.events import Level, Notification

MAX_LENGTH = 2000
# C0/C1 control characters other than tab and newline; they have no place in a message.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def validate_message(message: str) -> str:
    """The message, stripped; raises BadRequest naming what is wrong with it."""
    text = message.strip()
    if not text:
        raise BadRequest("the message is empty")
    if len(text) > MAX_LENGTH:
        raise BadRequest(f"the message has {len(text)} characters; at most {MAX_LENGTH} are allowed")
    if _CONTROL.search(text):
        raise BadRequest("the message contains control characters")
    return text


class NotificationService:
    def __init__(self, events: Publisher) -> None:
        self.events = events

    async def announce(
        self, message: str, sender: str, user_id: int | None = None, level: Level = "info"
    ) -> None:
        """Send ``message`` to every connected socket, or only to ``user_id``'s sockets."""
        event = Notification(
            message=validate_message(message),
            sender=sender,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            level=level,
        )
        if user_id is None:
            await self.events.to_all(event)
        else:
            await self.events.to_user(user_id, event)
