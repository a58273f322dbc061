"""Notifications: stored for their recipients, then delivered live as ``notification`` events."""

from __future__ import annotations

import re

from productdemo.errors import BadRequest
from productdemo.realtime.publisher import Publisher
from productdemo.services.notifications.events import (
    Kind,
    Level,
    Notification,
    NotificationPage,
    NotificationsRead,
)
from productdemo.services.notifications.store import NotificationStore

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
    def __init__(self, store: NotificationStore, events: Publisher, page_max: int = 100) -> None:
        self.store = store
        self.events = events
        self.page_max = page_max

    async def announce(
        self, message: str, sender: str, user_id: int | None = None, level: Level = "info"
    ) -> Notification:
        """Store ``message`` once for everyone (or for ``user_id``) and send it to their sockets."""
        return await self.notify(user_id, "announcement", validate_message(message), sender, level)

    async def notify(
        self,
        user_id: int | None,
        kind: Kind,
        message: str,
        sender: str = "system",
        level: Level = "info",
        link: str | None = None,
    ) -> Notification:
        """Store a notification, then publish it; it is there at next sign-in if nobody is online."""
        row = await self.store.add(user_id, kind, message, sender, level, link)
        event = Notification(
            id=row.id,
            kind=kind,
            message=message,
            sender=sender,
            created_at=row.created_at.isoformat(timespec="milliseconds"),
            level=level,
            link=link,
        )
        if user_id is None:
            await self.events.to_all(event)
        else:
            await self.events.to_user(user_id, event)
        return event

    async def page(self, user_id: int, before: int | None, limit: int) -> NotificationPage:
        limit = max(1, min(limit, self.page_max))
        items = await self.store.page(user_id, before, limit)
        return NotificationPage(notifications=items, unread=await self.store.unread(user_id))

    async def mark_read(self, user_id: int, ids: list[int] | None) -> int:
        """Mark ``ids`` read (None: all); every tab of the user hears of it. Returns unread left."""
        if ids is None:
            marked: list[int] = []
            unread = await self.store.mark_all_read(user_id)
        else:
            marked, unread = await self.store.mark_read(user_id, ids)
        await self.events.to_user(user_id, NotificationsRead(ids=marked, all=ids is None, unread=unread))
        return unread
