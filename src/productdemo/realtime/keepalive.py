"""Every socket's keepalive deadline on one timer per server.

uvicorn arms a loop timer per socket for its next ping and another for the pong's
deadline: a timer handle, a libuv timer and their arguments on every idle socket, about
half a KiB (``docs/performance.md``, issue 14). Here deadlines are rounded up to slots of
``interval / 4`` (a second at most) and kept in one set per slot; one timer fires for the
earliest slot. A ping may go out up to a slot late, which a heartbeat of tens of seconds
does not notice.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Protocol

logger = logging.getLogger(__name__)


class Due(Protocol):
    def keepalive_due(self) -> None:
        """The socket's ping is due, or the pong it waited for is late."""


class KeepaliveWheel:
    def __init__(self, interval: float) -> None:
        self.slot_seconds = min(1.0, interval / 4)
        self.slots: dict[int, set[Due]] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.armed_for: int | None = None

    def at(self, due: Due, delay: float) -> int:
        """Call ``due.keepalive_due()`` in ``delay`` seconds (rounded up); returns its slot."""
        loop = asyncio.get_running_loop()
        slot = math.ceil((loop.time() + delay) / self.slot_seconds)
        members = self.slots.get(slot)
        if members is None:
            self.slots[slot] = {due}
        else:
            members.add(due)
        if self.armed_for is None or slot < self.armed_for:
            self._arm(loop, slot)
        return slot

    def cancel(self, due: Due, slot: int | None) -> None:
        members = self.slots.get(slot) if slot is not None else None
        if slot is None or members is None:
            return
        members.discard(due)
        if not members:
            del self.slots[slot]

    def _arm(self, loop: asyncio.AbstractEventLoop, slot: int) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.armed_for = slot
        self.timer = loop.call_at(slot * self.slot_seconds, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        fired, self.timer, self.armed_for = self.armed_for, None, None
        for slot in sorted(s for s in self.slots if fired is not None and s <= fired):
            for due in self.slots.pop(slot):
                try:
                    due.keepalive_due()
                except Exception:  # one socket's failure must not stop the others' pings
                    logger.exception("keepalive of %r failed", due)
        if self.slots and self.armed_for is None:
            self._arm(loop, min(self.slots))
