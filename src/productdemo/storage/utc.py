"""``UTCDateTime``: timestamps that come back from every database aware, in UTC.

SQLite has no time-zone type: SQLAlchemy stores a ``DateTime(timezone=True)`` there as
text without an offset and reads it back naive, so ``GET /api/documents`` would answer
``2026-12-02T01:35:54`` and a browser outside UTC would read it as local time. Every
timestamp the app writes is UTC, so this type converts to UTC on the way in and attaches
UTC on the way out; PostgreSQL's ``timestamptz`` gets the same column type as before.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
