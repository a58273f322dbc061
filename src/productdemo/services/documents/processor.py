"""Background processing: extract, chunk, embed, index — with bounded concurrency and live progress.

Work is claimed from the database, so several instances sharing it never process one
document twice: each of ``concurrency`` workers claims the oldest unfinished document
whose lease has run out (one ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)
RETURNING`` on PostgreSQL; SQLite serializes writers), renews the lease while it works,
and gives it up when done. A document whose instance died is claimed again once its lease
expires; a restarted instance first releases the claims it held under its own name.
Uploads on this instance wake a worker at once; others find new work every
``poll_interval`` seconds.

Extraction is CPU work and runs in a worker process (``workers.py``), so the event loop
keeps serving sockets; the worker reports pages, which the task publishes at most every
``min_interval`` seconds. Deleting a document cancels its task and stops the worker at
its next page. Chunking is quick and runs in a thread. Embedding (``services/retrieval/``)
runs in its own worker processes; its vectors are stored in the indexing transaction.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Update, delete, insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import DomainError
from productdemo.realtime.publisher import Publisher
from productdemo.services.documents.chunking import chunk_parts
from productdemo.services.documents.errors import DocumentError
from productdemo.services.documents.events import DocumentStatusUpdate
from productdemo.services.documents.files import FileStore
from productdemo.services.documents.progress import ProgressReporter
from productdemo.services.documents.sniff import DocumentKind
from productdemo.services.documents.workers import ExtractionPool
from productdemo.services.retrieval.stage import EmbeddingStage
from productdemo.storage.models import Chunk, Document

logger = logging.getLogger(__name__)

INDEX_BATCH = 200

_CLAIM = """
UPDATE documents SET claimed_by = :me, lease_until = :until
WHERE id = (
  SELECT id FROM documents
  WHERE status IN ('queued', 'processing') AND (lease_until IS NULL OR lease_until < :now)
  ORDER BY created_at LIMIT 1{lock}
)
RETURNING id, owner_id, status
"""


class DocumentProcessor:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        events: Publisher,
        files: FileStore,
        extraction: ExtractionPool,
        embedding: EmbeddingStage,
        concurrency: int,
        instance_id: str,
        dialect: str,
        lease: float = 30.0,
        poll_interval: float = 1.0,
        min_interval: float = 0.1,
    ) -> None:
        self._db = db
        self._events = events
        self._files = files
        self._extraction = extraction
        self._embedding = embedding
        self._concurrency = concurrency
        self.instance_id = instance_id
        self._dialect = dialect
        self._lease = lease
        self._poll = poll_interval
        self._min_interval = min_interval
        lock = " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
        self._claim_sql = text(_CLAIM.format(lock=lock))
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._tasks: dict[str, tuple[asyncio.Task[None], threading.Event]] = {}

    async def start(self) -> None:
        """Release this instance's stale claims (a restart), then start the workers."""
        release = (
            update(Document)
            .values(claimed_by=None, lease_until=None)
            .where(Document.lease_until.is_not(None))
        )
        if self._dialect != "sqlite":
            # Only one instance can use an SQLite file; on a shared database, only our own claims.
            release = release.where(Document.claimed_by == self.instance_id)
        async with self._db() as db:
            await db.execute(release)
            await db.commit()
        loop = asyncio.get_running_loop()
        self._workers = [
            loop.create_task(self._work(), name=f"documents-{i}") for i in range(self._concurrency)
        ]

    def submit(self) -> None:
        """New work was queued: wake an idle worker."""
        self._wake.set()

    async def cancel(self, doc_id: str) -> None:
        """Stop processing ``doc_id`` here, if it runs here, and wait until it has stopped."""
        entry = self._tasks.get(doc_id)
        if entry is None:
            return
        task, cancel = entry
        cancel.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for doc_id in list(self._tasks):
            await self.cancel(doc_id)
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            try:
                claimed = await self._claim()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("could not claim a document; retrying")
                claimed = None
            if claimed is None:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                except TimeoutError:
                    pass
                continue
            doc_id, owner_id, interrupted = claimed
            cancel = threading.Event()
            task = asyncio.get_running_loop().create_task(self._run(doc_id, owner_id, cancel, interrupted))
            self._tasks[doc_id] = (task, cancel)
            try:
                await asyncio.gather(task, return_exceptions=True)
            finally:
                self._tasks.pop(doc_id, None)

    async def _claim(self) -> tuple[str, int, bool] | None:
        now = datetime.now(UTC)
        params = {"me": self.instance_id, "until": now + timedelta(seconds=self._lease), "now": now}
        async with self._db() as db:
            row = (await db.execute(self._claim_sql, params)).first()
            await db.commit()
        if row is None:
            return None
        return str(row[0]), int(row[1]), row[2] == "processing"

    async def _keep_lease(self, doc_id: str, cancel: threading.Event, task: asyncio.Task[None]) -> None:
        """Renew the claim while processing; if the document is gone (deleted), stop."""
        while True:
            await asyncio.sleep(self._lease / 3)
            until = datetime.now(UTC) + timedelta(seconds=self._lease)
            async with self._db() as db:
                result = await db.execute(
                    update_row(doc_id)
                    .where(Document.claimed_by == self.instance_id)
                    .values(lease_until=until)
                )
                await db.commit()
            if not getattr(result, "rowcount", 1):
                logger.info("document %s is gone or claimed elsewhere; stopping", doc_id)
                cancel.set()
                task.cancel()
                return

    def _reporter(self, doc_id: str, owner_id: int) -> ProgressReporter:
        async def sink(update: DocumentStatusUpdate, save: bool) -> None:
            if save:
                async with self._db() as db:
                    final = update.status in ("completed", "failed")
                    await db.execute(
                        update_row(doc_id).values(
                            **({"claimed_by": None, "lease_until": None} if final else {}),
                            status=update.status,
                            stage=update.stage,
                            progress=update.progress,
                            message=update.message,
                            error=update.error,
                            updated_at=datetime.now(UTC),
                        )
                    )
                    await db.commit()
            try:
                await self._events.to_user(owner_id, update)
                await self._events.to_topic(f"document:{doc_id}", update)
            except DomainError as exc:
                # The row is saved; clients catch up through resync once the broker is back.
                logger.warning("document %s: status not published: %s", doc_id, exc)

        return ProgressReporter(doc_id, sink, self._min_interval)

    async def _run(self, doc_id: str, owner_id: int, cancel: threading.Event, interrupted: bool) -> None:
        reporter = self._reporter(doc_id, owner_id)
        current = asyncio.current_task()
        assert current is not None
        keeper = asyncio.get_running_loop().create_task(self._keep_lease(doc_id, cancel, current))
        try:
            if interrupted:
                logger.info("document %s was interrupted; processing it again", doc_id)
                await reporter.stage_changed("queued", 0, "Resumed after an interruption")
            await self._process(doc_id, reporter, cancel)
        except asyncio.CancelledError:
            raise
        except DocumentError as exc:
            await reporter.stage_changed("failed", reporter.progress, "Processing failed", exc.reason)
        except Exception as exc:
            logger.exception("document %s: processing failed", doc_id)
            await reporter.stage_changed(
                "failed", reporter.progress, "Processing failed", f"internal error ({type(exc).__name__})"
            )
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _process(self, doc_id: str, reporter: ProgressReporter, cancel: threading.Event) -> None:
        async with self._db() as db:
            doc = await db.get(Document, doc_id)
        if doc is None:
            return
        kind = DocumentKind(doc.kind)
        await reporter.stage_changed("extracting", 5, "Extracting text")
        data = await self._files.read(doc.sha256)
        pages = [0, 0]
        work = asyncio.ensure_future(self._extraction.extract(data, kind, doc.encoding, pages))
        while not work.done():
            await asyncio.wait({work}, timeout=self._min_interval)
            done, total = pages
            if total:
                await reporter.advanced(5 + 55 * done // total, f"Extracting text (page {done} of {total})")
        parts = work.result()
        await reporter.stage_changed("chunking", 60, "Splitting into chunks")
        chunks = await asyncio.to_thread(chunk_parts, parts)
        vectors = await self._embedding.embed(chunks, reporter)
        await reporter.stage_changed("indexing", 90, f"Indexing {len(chunks)} chunks")
        async with self._db() as db:
            # A previous attempt that died after indexing may have left chunks behind.
            await db.execute(delete(Chunk).where(Chunk.document_id == doc_id))
            for start in range(0, len(chunks), INDEX_BATCH):
                batch = chunks[start : start + INDEX_BATCH]
                await db.execute(
                    insert(Chunk),
                    [
                        {
                            "document_id": doc_id,
                            "idx": c.index,
                            "text": c.text,
                            "page": c.page,
                            "section": c.section,
                            "char_start": c.char_start,
                            "char_end": c.char_end,
                        }
                        for c in batch
                    ],
                )
                done = start + len(batch)
                await reporter.advanced(
                    90 + 9 * done // len(chunks), f"Indexed {done} of {len(chunks)} chunks"
                )
            await self._embedding.store(db, doc_id, doc.owner_id, vectors)
            await db.execute(update_row(doc_id).values(chunk_count=len(chunks)))
            await db.commit()
        noun = "chunk" if len(chunks) == 1 else "chunks"
        await reporter.stage_changed("completed", 100, f"Ready: {len(chunks)} {noun} indexed")


def update_row(doc_id: str) -> Update:
    return update(Document).where(Document.id == doc_id)
