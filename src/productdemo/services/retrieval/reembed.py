"""When the configured embedding model changes, documents embedded with another one are redone.

At start-up, every completed document with a chunk that has no vector of the current model
is queued again (its owner sees it go back to ``queued``, then through the stages with live
progress). The document processor claims it as any other, so the work is shared between
instances, survives restarts and always ends. Until a document is done its old vectors are
simply not read: search only compares vectors of the current model.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import DomainError
from productdemo.realtime.publisher import Publisher
from productdemo.services.documents.events import DocumentStatusUpdate

logger = logging.getLogger(__name__)

_STALE = text("""
SELECT d.id, d.owner_id FROM documents d
WHERE d.status = 'completed' AND EXISTS (
  SELECT 1 FROM chunks c WHERE c.document_id = d.id AND NOT EXISTS (
    SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id AND v.model_id = :model))
""")

_REQUEUE = text("""
UPDATE documents SET status = 'queued', stage = 'queued', progress = 0, message = :message,
  updated_at = :now, claimed_by = NULL, lease_until = NULL
WHERE id = :id AND status = 'completed'
""")


async def requeue_stale(db: async_sessionmaker[AsyncSession], events: Publisher, model_id: str) -> int:
    """Queue every document lacking vectors of ``model_id``; returns how many were queued."""
    message = f"Queued: embedding with {model_id}"
    async with db() as session:
        stale = (await session.execute(_STALE, {"model": model_id})).all()
        for doc_id, _ in stale:
            await session.execute(_REQUEUE, {"id": doc_id, "message": message, "now": datetime.now(UTC)})
        await session.commit()
    for doc_id, owner_id in stale:
        update = DocumentStatusUpdate(
            document_id=doc_id, status="queued", stage="queued", progress=0, message=message, restarted=True
        )
        try:
            await events.to_user(owner_id, update)
            await events.to_topic(f"document:{doc_id}", update)
        except DomainError as exc:
            # The rows are saved; clients catch up through resync once the broker is back.
            logger.warning("document %s: re-embedding not announced: %s", doc_id, exc)
    if stale:
        logger.info("%d documents queued to be embedded with %s", len(stale), model_id)
    return len(stale)
