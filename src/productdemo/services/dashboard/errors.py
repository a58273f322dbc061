"""The last errors logged on this instance, for the dashboard."""

from __future__ import annotations

import logging
from collections import deque

from productdemo.services.dashboard.events import RecentError

KEEP = 10


class RecentErrors(logging.Handler):
    """A logging handler that keeps the newest ERROR records (message only, no traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: deque[RecentError] = deque(maxlen=KEEP)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()[:300]
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)[:300]
        self.records.append(RecentError(at=int(record.created * 1000), source=record.name, message=message))
