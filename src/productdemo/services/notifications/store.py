"""Stored notifications and read state.

A notification for everyone is one row with ``user_id`` null; what a user has read is
their ``read_up_to`` mark (everything up to it) plus one row per notification read above
it, so "mark all read" is one update however many notifications there are.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Subquery, and_, delete, exists, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.services.notifications.events import NotificationPublic
from productdemo.storage.database import to_completion
from productdemo.storage.models import NotificationMark, NotificationRead, StoredNotification

N = StoredNotification


def _visible_to(user_id: int) -> object:
    return or_(N.user_id == user_id, N.user_id.is_(None))


class NotificationStore:
    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db

    async def add(
        self, user_id: int | None, kind: str, message: str, sender: str, level: str, link: str | None
    ) -> StoredNotification:
        row = N(
            user_id=user_id,
            kind=kind,
            message=message,
            sender=sender,
            level=level,
            link=link,
            created_at=datetime.now(UTC),
        )

        async def insert() -> None:
            async with self._db() as db:
                db.add(row)
                await db.commit()

        # Document and install outcomes are noted from their jobs' tasks, which a delete or a
        # stop cancels: the insert (a RETURNING statement) must not keep SQLite's write lock.
        await to_completion(insert())
        return row

    async def page(self, user_id: int, before: int | None, limit: int) -> list[NotificationPublic]:
        """The user's notifications older than ``before``, newest first."""
        async with self._db() as db:
            mark = await _mark(db, user_id)
            read = or_(
                N.id <= mark,
                exists().where(NotificationRead.user_id == user_id, NotificationRead.notification_id == N.id),
            )
            # The newest of the user's own and of everyone's, each read backwards along the
            # (user_id, id) index, then merged: no scan of every visible row for the order.
            newest = [
                _newest(N.user_id == user_id, before, limit),
                _newest(N.user_id.is_(None), before, limit),
            ]
            ids = union_all(*(select(q.c.id) for q in newest))
            query = select(N, read.label("read")).where(N.id.in_(ids))
            rows = (await db.execute(query.order_by(N.id.desc()).limit(limit))).all()
        return [
            NotificationPublic.model_validate(
                {
                    "id": n.id,
                    "kind": n.kind,
                    "message": n.message,
                    "from": n.sender,
                    "level": n.level,
                    "createdAt": n.created_at.isoformat(timespec="milliseconds"),
                    "read": bool(is_read),
                    "link": n.link,
                }
            )
            for n, is_read in rows
        ]

    async def unread(self, user_id: int) -> int:
        async with self._db() as db:
            return await _unread(db, user_id)

    async def mark_read(self, user_id: int, ids: list[int]) -> tuple[list[int], int]:
        """Mark ``ids`` (those the user can see) read; returns them and the unread count left."""
        async with self._db() as db:
            mark = await _mark(db, user_id)
            already = select(NotificationRead.notification_id).where(NotificationRead.user_id == user_id)
            query = select(N.id).where(
                _visible_to(user_id),  # type: ignore[arg-type]
                N.id.in_(ids),
                N.id > mark,
                N.id.not_in(already),
            )
            fresh = list((await db.execute(query)).scalars())
            db.add_all(NotificationRead(user_id=user_id, notification_id=i) for i in fresh)
            await db.commit()
            return sorted(set(ids) & set(fresh)), await _unread(db, user_id)

    async def mark_all_read(self, user_id: int) -> int:
        """Everything the user can see now is read; returns the unread count (0)."""
        async with self._db() as db:
            top = await db.scalar(select(func.max(N.id)).where(_visible_to(user_id)))  # type: ignore[arg-type]
            if top is not None:
                row = await db.get(NotificationMark, user_id)
                if row is None:
                    db.add(NotificationMark(user_id=user_id, read_up_to=top))
                else:
                    row.read_up_to = max(row.read_up_to, top)
                await db.execute(
                    delete(NotificationRead).where(
                        and_(NotificationRead.user_id == user_id, NotificationRead.notification_id <= top)
                    )
                )
                await db.commit()
            return await _unread(db, user_id)


def start_read_mark(db: AsyncSession, user_id: int) -> None:
    """Inside the transaction that creates account ``user_id``: start its mark above every
    announcement to everyone sent so far.

    Those were not sent to this account (it did not exist), so they must never count as
    unread for it; the mark makes them read in one row, and keeps the unread count to its
    range counts. (On PostgreSQL an announcement whose transaction commits just after the
    account's may have a lower id, and so be read too: it was sent as the account was made.)
    """
    newest = select(func.max(N.id)).where(N.user_id.is_(None)).scalar_subquery()
    db.add(NotificationMark(user_id=user_id, read_up_to=func.coalesce(newest, 0)))


async def _mark(db: AsyncSession, user_id: int) -> int:
    return (
        await db.scalar(select(NotificationMark.read_up_to).where(NotificationMark.user_id == user_id)) or 0
    )


def _newest(owner: ColumnElement[bool], before: int | None, limit: int) -> Subquery:
    query = select(N.id).where(owner)
    if before is not None:
        query = query.where(N.id < before)
    return query.order_by(N.id.desc()).limit(limit).subquery()


async def _unread(db: AsyncSession, user_id: int) -> int:
    """Visible notifications above the mark, less those read one by one (all above it).

    Three range counts on covering indexes instead of a NOT EXISTS per notification.
    """
    mark = await _mark(db, user_id)
    own = select(func.count()).where(N.user_id == user_id, N.id > mark).scalar_subquery()
    everyone = select(func.count()).where(N.user_id.is_(None), N.id > mark).scalar_subquery()
    read = (
        select(func.count())
        .where(NotificationRead.user_id == user_id, NotificationRead.notification_id > mark)
        .scalar_subquery()
    )
    return await db.scalar(select(own + everyone - read)) or 0
