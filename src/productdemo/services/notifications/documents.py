"""Stored notifications for document outcomes: a publisher that watches the final status.

The document processor publishes every status through a :class:`Publisher`; wrapping it
here turns each final status sent to the owner (ready or failed) into a stored
notification, without the processor knowing about notifications.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.realtime.events import Event
from productdemo.realtime.publisher import Publisher
from productdemo.services.documents.events import DocumentStatusUpdate
from productdemo.services.notifications.service import NotificationService
from productdemo.storage.models import Document

logger = logging.getLogger(__name__)

#: filename_of(document id) -> its file name, or None if it is gone
FilenameOf = Callable[[str], Awaitable[str | None]]


class DocumentOutcomes:
    """A :class:`Publisher` that passes everything through and notes documents' outcomes."""

    def __init__(
        self, events: Publisher, notifications: NotificationService, filename_of: FilenameOf
    ) -> None:
        self.events = events
        self.notifications = notifications
        self.filename_of = filename_of

    async def to_user(self, user_id: int, event: Event) -> None:
        await self.events.to_user(user_id, event)
        if isinstance(event, DocumentStatusUpdate) and event.status in ("completed", "failed"):
            try:
                await self._note(user_id, event)
            except Exception:
                # The outcome is saved and published already; a lost notification must not
                # turn a processed document into a failed one.
                logger.exception("document %s: outcome not notified", event.document_id)

    async def to_topic(self, topic: str, event: Event) -> None:
        await self.events.to_topic(topic, event)

    async def to_all(self, event: Event) -> None:
        await self.events.to_all(event)

    async def _note(self, user_id: int, update: DocumentStatusUpdate) -> None:
        name = await self.filename_of(update.document_id) or update.document_id
        link = f"/documents?document={update.document_id}"
        if update.status == "completed":
            await self.notifications.notify(user_id, "document_ready", f"{name} is ready", link=link)
        else:
            reason = f": {update.error}" if update.error else ""
            message = f"{name} could not be processed{reason}"
            await self.notifications.notify(user_id, "document_failed", message, level="warning", link=link)


def filename_lookup(db: async_sessionmaker[AsyncSession]) -> FilenameOf:
    async def filename_of(doc_id: str) -> str | None:
        async with db() as session:
            return await session.scalar(select(Document.filename).where(Document.id == doc_id))

    return filename_of
