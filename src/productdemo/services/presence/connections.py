"""``connections_changed`` on ``admin:connections``: a user's socket count on this instance."""

from __future__ import annotations

import logging
from collections.abc import Callable

from productdemo.errors import DomainError
from productdemo.realtime.connection import Principal
from productdemo.realtime.publisher import Publisher
from productdemo.services.presence.events import ConnectionsChanged

logger = logging.getLogger(__name__)

CONNECTIONS_TOPIC = "admin:connections"


class ConnectionCounts:
    """A connection listener that tells admins each user's socket count on this instance.

    ``watched(topic)`` says whether anyone may follow the topic (another instance, or a
    local socket); when nobody can, nothing is published.
    """

    def __init__(self, events: Publisher, watched: Callable[[str], bool]) -> None:
        self.events = events
        self.watched = watched
        self.counts: dict[int, int] = {}

    async def connection_opened(self, principal: Principal, connection_id: str) -> None:
        self.counts[principal.user_id] = self.counts.get(principal.user_id, 0) + 1
        await self._announce(principal)

    async def connection_closed(self, principal: Principal, connection_id: str) -> None:
        left = self.counts.get(principal.user_id, 1) - 1
        if left:
            self.counts[principal.user_id] = left
        else:
            self.counts.pop(principal.user_id, None)
        await self._announce(principal)

    async def _announce(self, p: Principal) -> None:
        if not self.watched(CONNECTIONS_TOPIC):
            return
        event = ConnectionsChanged(
            user_id=p.user_id, username=p.username, connections=self.counts.get(p.user_id, 0)
        )
        try:
            await self.events.to_topic(CONNECTIONS_TOPIC, event)
        except DomainError as exc:
            # Advisory: a broker outage must not fail a connect or disconnect.
            logger.warning("could not announce connections of user %s: %s", p.user_id, exc)
