"""Claims on documents: who processes which, until when — by the database's clock.

An instance claims a document by writing its name (``claimed_by``) and an expiry
(``lease_until``) into the row, and renews the expiry while it works. Expiry is computed
and compared by the database (``now()`` on PostgreSQL), never by an instance's own clock,
so instances whose clocks disagree still agree on when a lease has run out. (SQLite is
used by one instance only; there the instance's clock is the only clock.)

A claim is only a promise: every write an instance makes for a claimed document must
also check that it still holds the claim (:meth:`Leases.guard` and :func:`rows_changed`),
so an instance that lost its lease (paused, partitioned, slow) can never overwrite the work
of the instance that took the document over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Result, TextClause, Update, bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.storage.database import to_completion
from productdemo.storage.models import Document

logger = logging.getLogger(__name__)

_CLAIM = """
UPDATE documents SET claimed_by = :me, lease_until = {until}, attempts = attempts + 1
WHERE id = (
  SELECT id FROM documents
  WHERE status IN ('queued', 'processing') AND (lease_until IS NULL OR lease_until < {now})
  ORDER BY created_at LIMIT 1{lock}
)
RETURNING id, owner_id, status, attempts
"""
_RENEW = "UPDATE documents SET lease_until = {until} WHERE id = :doc AND claimed_by = :me"
# Given back, not lost: the attempt it cost is returned (a restart must not fail documents).
_GIVE_BACK = """
UPDATE documents SET claimed_by = NULL, lease_until = NULL,
  attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
WHERE claimed_by = :me AND status IN ('queued', 'processing')
"""


class LeaseLost(Exception):
    """This instance no longer holds the document's claim: another may be processing it."""


@dataclass(frozen=True, slots=True)
class Claim:
    document_id: str
    owner_id: int
    interrupted: bool  # it was being processed when its previous holder stopped
    attempt: int  # 1 for the first claim; counts every claim, including after crashes
    started: float  # the event loop's clock before the claim: its lease runs out after this + lease


def rows_changed(result: Result[Any]) -> int:
    """The row count of an UPDATE or DELETE (SQLAlchemy types ``execute`` as a plain Result)."""
    count: int = getattr(result, "rowcount", 0)
    return count


class Leases:
    def __init__(
        self, db: async_sessionmaker[AsyncSession], instance_id: str, dialect: str, lease: float
    ) -> None:
        self._db = db
        self.instance_id = instance_id
        self.lease = lease
        self._database_clock = dialect == "postgresql"
        lock = " FOR UPDATE SKIP LOCKED" if self._database_clock else ""
        self._claim_sql = self._sql(_CLAIM.replace("{lock}", lock))
        self._renew_sql = self._sql(_RENEW)

    def _sql(self, template: str) -> TextClause:
        if self._database_clock:
            until = "now() + make_interval(secs => CAST(:lease AS double precision))"
            return text(template.format(until=until, now="now()"))
        clause = text(template.format(until=":until", now=":now"))
        params = [
            bindparam(p, type_=DateTime(timezone=True)) for p in ("until", "now") if f":{p}" in str(clause)
        ]
        return clause.bindparams(*params)

    def _params(self, **params: object) -> dict[str, object]:
        params["me"] = self.instance_id
        if self._database_clock:
            params["lease"] = self.lease
        else:
            now = datetime.now(UTC)
            params.update(now=now, until=now + timedelta(seconds=self.lease))
        return params

    def guard(self, statement: Update) -> Update:
        """``statement`` restricted to rows this instance holds the claim on."""
        return statement.where(Document.claimed_by == self.instance_id)

    async def claim(self) -> Claim | None:
        """Claim the oldest unfinished document whose lease has run out, if there is one."""
        started = asyncio.get_running_loop().time()

        async def claim() -> tuple[Any, ...] | None:
            async with self._db() as db:
                row = (await db.execute(self._claim_sql, self._params())).first()
                await db.commit()
            return None if row is None else tuple(row)

        # The workers are cancelled at stop, which then gives the claims back: a claim cut
        # off mid-statement would keep SQLite's write lock and that write would fail.
        row = await to_completion(claim())
        if row is None:
            return None
        return Claim(str(row[0]), int(row[1]), row[2] == "processing", int(row[3]), started)

    async def renew(self, doc_id: str) -> bool:
        """Extend the lease; False if this instance no longer holds it (or the row is gone)."""

        async def renew() -> bool:
            async with self._db() as db:
                result = await db.execute(self._renew_sql, self._params(doc=doc_id))
                await db.commit()
            return rows_changed(result) == 1

        # The keeper is cancelled when the work ends: never in the middle of this transaction.
        return await to_completion(renew())

    async def requeue(self, doc_id: str, message: str, refund: bool) -> bool:
        """Give the claim up and queue the document again; ``refund`` returns the attempt.

        False if this instance no longer held the claim (nothing was written).
        """
        values: dict[str, object] = {
            "claimed_by": None,
            "lease_until": None,
            "status": "queued",
            "stage": "queued",
            "progress": 0,
            "message": message,
            "updated_at": datetime.now(UTC),
        }
        if refund:
            values["attempts"] = Document.attempts - 1

        async def requeue() -> bool:
            async with self._db() as db:
                result = await db.execute(
                    self.guard(update(Document).where(Document.id == doc_id)).values(values)
                )
                await db.commit()
            return rows_changed(result) == 1

        # Called from the document's task, which a delete or a stop may cancel.
        return await to_completion(requeue())

    async def give_back_all(self) -> None:
        """Release every claim this instance holds (a restart or a clean stop), refunding the attempt."""
        async with self._db() as db:
            await db.execute(text(_GIVE_BACK), {"me": self.instance_id})
            await db.commit()

    async def keep(self, claim: Claim, lost: Callable[[], None]) -> None:
        """Renew ``claim`` every third of the lease until cancelled; call ``lost`` if it cannot be kept.

        A renewal that fails (the database briefly unreachable, a timeout) is retried until
        the lease would run out; only then is the work given up, since from that moment
        another instance may take the document over.
        """
        loop = asyncio.get_running_loop()
        expires = claim.started + self.lease
        while True:
            await asyncio.sleep(self.lease / 3)
            while True:
                started = loop.time()
                if started >= expires:
                    logger.warning("document %s: lease ran out before it could be renewed", claim.document_id)
                    lost()
                    return
                try:
                    async with asyncio.timeout(expires - started):
                        held = await self.renew(claim.document_id)
                except Exception as exc:
                    logger.warning("document %s: lease renewal failed (%r); retrying", claim.document_id, exc)
                    await asyncio.sleep(min(self.lease / 10, max(0.0, expires - loop.time())))
                    continue
                if not held:
                    logger.info("document %s is gone or claimed elsewhere; stopping", claim.document_id)
                    lost()
                    return
                expires = started + self.lease
                break
