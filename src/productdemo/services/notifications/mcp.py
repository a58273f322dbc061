"""Stored notifications for MCP installs: the admin who started one hears how it ended.

An install can run for many minutes on another instance, long after its admin left the
page; the outcome (installed, failed, cancelled, ...) is kept for them like a document's.
As for documents, a publisher wrapper watches the final state, so the MCP service does not
know about notifications.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.realtime.events import Event
from productdemo.realtime.publisher import Publisher
from productdemo.services.mcp.events import FINAL_STATES, McpInstallUpdate
from productdemo.services.notifications.service import NotificationService
from productdemo.storage.models import McpHost, McpInstall

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InstallLabel:
    requested_by: int | None
    server_name: str
    host_name: str


#: label_of(install id) -> who started it and what it installs where, or None if it is gone
LabelOf = Callable[[str], Awaitable[InstallLabel | None]]


class McpOutcomes:
    """A :class:`Publisher` that passes everything through and notes installs' outcomes."""

    def __init__(self, events: Publisher, notifications: NotificationService, label_of: LabelOf) -> None:
        self.events = events
        self.notifications = notifications
        self.label_of = label_of

    async def to_user(self, user_id: int, event: Event) -> None:
        await self.events.to_user(user_id, event)

    async def to_topic(self, topic: str, event: Event) -> None:
        await self.events.to_topic(topic, event)
        if isinstance(event, McpInstallUpdate) and event.state in FINAL_STATES:
            try:
                await self._note(event)
            except Exception:
                # The outcome is stored and published already; a lost notification must not
                # change how the install ended.
                logger.exception("install %s: outcome not notified", event.install_id)

    async def to_all(self, event: Event) -> None:
        await self.events.to_all(event)

    async def _note(self, update: McpInstallUpdate) -> None:
        label = await self.label_of(update.install_id)
        if label is None or label.requested_by is None:
            return
        what = f"{label.server_name} on {label.host_name}"
        link = f"/admin/mcp/{update.install_id}"
        if update.state == "succeeded":
            message = f"{what}: {update.message or 'installed'}"
            await self.notifications.notify(label.requested_by, "mcp_install_finished", message, link=link)
            return
        detail = f": {update.message}" if update.message else ""
        message = f"{what} {update.state.replace('_', ' ')}{detail}"
        await self.notifications.notify(
            label.requested_by, "mcp_install_finished", message, level="warning", link=link
        )


def label_lookup(db: async_sessionmaker[AsyncSession]) -> LabelOf:
    async def label_of(install_id: str) -> InstallLabel | None:
        async with db() as session:
            row = (
                await session.execute(
                    select(McpInstall.requested_by, McpInstall.server_name, McpHost.name)
                    .join(McpHost, McpHost.id == McpInstall.host_id)
                    .where(McpInstall.id == install_id)
                )
            ).first()
        return None if row is None else InstallLabel(row[0], row[1], row[2])

    return label_of
