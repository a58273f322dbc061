"""Background processing: extract, chunk, embed, index — with bounded concurrency and live progress.

Work is claimed from the database, so several instances sharing it never process one
document twice: each of ``concurrency`` workers claims the oldest unfinished document
whose lease has run out (one ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)
RETURNING`` on PostgreSQL; SQLite serializes writers), renews the lease while it works,
and gives it up when done. A document whose instance died is claimed again once its lease
expires; a restarted instance first releases the claims it held under its own name.
Claims, guarded writes and attempts are ``leases.py`` (rules: docs/guarantees.md).
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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import Update, delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import DomainError
from productdemo.realtime.publisher import Publisher
from productdemo.services.documents.chunking import Chunk as TextChunk, chunk_parts
from productdemo.services.documents.errors import DocumentError
from productdemo.services.documents.events import DocumentStatusUpdate
from productdemo.services.documents.files import FileStore
from productdemo.services.documents.leases import Claim, LeaseLost, Leases, rows_changed
from productdemo.services.documents.progress import ProgressReporter
from productdemo.services.documents.sniff import DocumentKind
from productdemo.services.documents.workers import ExtractionPool, PoolUnavailable, WorkerCrashed
from productdemo.services.retrieval.embedder import Vectors
from productdemo.services.retrieval.stage import EmbeddingStage
from productdemo.storage.database import to_completion
from productdemo.storage.models import Chunk, Document

logger = logging.getLogger(__name__)

INDEX_BATCH = 200


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
        max_attempts: int = 3,
    ) -> None:
        self._db = db
        self._events = events
        self._files = files
        self.extraction = extraction
        self._embedding = embedding
        self._concurrency = concurrency
        self.instance_id = instance_id
        self._dialect = dialect
        self._leases = Leases(db, instance_id, dialect, lease)
        self._poll = poll_interval
        self._min_interval = min_interval
        self._max_attempts = max_attempts
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
        try:
            await self._leases.give_back_all()
        except Exception:
            logger.exception("could not release this instance's claims; they run out with their leases")

    async def _work(self) -> None:
        while True:
            try:
                claimed = await self._leases.claim()
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
            cancel = threading.Event()
            task = asyncio.get_running_loop().create_task(self._run(claimed, cancel))
            self._tasks[claimed.document_id] = (task, cancel)
            try:
                await asyncio.gather(task, return_exceptions=True)
            finally:
                self._tasks.pop(claimed.document_id, None)
            if task.done() and not task.cancelled() and isinstance(task.exception(), PoolUnavailable):
                await asyncio.sleep(self._poll)  # no worker process could be started: back off

    def _reporter(
        self, doc_id: str, owner_id: int, before_final: Callable[[], Awaitable[None]]
    ) -> ProgressReporter:
        async def sink(update: DocumentStatusUpdate, save: bool) -> None:
            if save:
                final = update.status in ("completed", "failed")
                if final:
                    # The final write gives the claim up: a renewal landing after it would find
                    # no claim and cancel this task before the final event is published.
                    await before_final()
                # A delete or a lost lease cancels this task: never in the middle of the write.
                await to_completion(self._save_status(doc_id, update, final))
            await self._publish(owner_id, update)

        return ProgressReporter(doc_id, sink, self._min_interval)

    async def _save_status(self, doc_id: str, update: DocumentStatusUpdate, final: bool) -> None:
        """Raises:
        LeaseLost: this instance no longer holds the claim (nothing was written).
        """
        async with self._db() as db:
            result = await db.execute(
                self._leases.guard(update_row(doc_id)).values(
                    **({"claimed_by": None, "lease_until": None} if final else {}),
                    status=update.status,
                    stage=update.stage,
                    progress=update.progress,
                    message=update.message,
                    error=update.error,
                    updated_at=datetime.now(UTC),
                )
            )
            if rows_changed(result) != 1:
                raise LeaseLost(doc_id)
            await db.commit()

    async def _publish(self, owner_id: int, update: DocumentStatusUpdate) -> None:
        try:
            await self._events.to_user(owner_id, update)
            await self._events.to_topic(f"document:{update.document_id}", update)
        except DomainError as exc:
            # The row is saved; clients catch up through resync once the broker is back.
            logger.warning("document %s: status not published: %s", update.document_id, exc)

    async def _run(self, claim: Claim, cancel: threading.Event) -> None:
        doc_id = claim.document_id
        current = asyncio.current_task()
        assert current is not None

        def lost() -> None:
            cancel.set()
            current.cancel()

        keeper = asyncio.get_running_loop().create_task(self._leases.keep(claim, lost))

        async def stop_keeper() -> None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

        reporter = self._reporter(doc_id, claim.owner_id, stop_keeper)
        try:
            if claim.attempt > self._max_attempts:
                await self._give_up(reporter, claim)
                return
            if claim.interrupted:
                logger.info("document %s was interrupted; processing it again", doc_id)
                await reporter.stage_changed("queued", 0, "Resumed after an interruption")
            await self._process(doc_id, reporter, cancel)
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            logger.warning("document %s: claim lost to another instance; stopping", doc_id)
        except DocumentError as exc:
            await reporter.stage_changed("failed", reporter.progress, "Processing failed", exc.reason)
        except (WorkerCrashed, PoolUnavailable) as exc:
            await stop_keeper()
            await self._retry_later(claim, refund=isinstance(exc, PoolUnavailable))
            if isinstance(exc, PoolUnavailable):
                raise
        except Exception as exc:
            logger.exception("document %s: processing failed", doc_id)
            await reporter.stage_changed(
                "failed", reporter.progress, "Processing failed", f"internal error ({type(exc).__name__})"
            )
        finally:
            await stop_keeper()

    async def _give_up(self, reporter: ProgressReporter, claim: Claim) -> None:
        stops = claim.attempt - 1
        logger.warning("document %s: stopped %d times; giving up", claim.document_id, stops)
        reason = f"processing stopped unexpectedly {stops} times (killed, e.g. out of memory); not retried"
        await reporter.stage_changed("failed", reporter.progress, "Processing failed", reason)

    async def _retry_later(self, claim: Claim, refund: bool) -> None:
        """Put the document back in the queue (its worker process died, or none could start)."""
        message = "Queued again: the extraction process stopped"
        if await self._leases.requeue(claim.document_id, message, refund):
            update = DocumentStatusUpdate(
                document_id=claim.document_id, status="queued", stage="queued", progress=0, message=message
            )
            await self._publish(claim.owner_id, update)

    async def _process(self, doc_id: str, reporter: ProgressReporter, cancel: threading.Event) -> None:
        async with self._db() as db:
            doc = await db.get(Document, doc_id)
        if doc is None:
            return
        kind = DocumentKind(doc.kind)
        await reporter.stage_changed("extracting", 5, "Extracting text")
        data = await self._files.read(doc.sha256)
        pages = [0, 0]
        work = asyncio.ensure_future(self.extraction.extract(data, kind, doc.encoding, pages))
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=self._min_interval)
                done, total = pages
                if total:
                    await reporter.advanced(
                        5 + 55 * done // total, f"Extracting text (page {done} of {total})"
                    )
        finally:
            work.cancel()  # cancelled (deleted, lease lost): the worker stops at its next page
        parts = work.result()
        await reporter.stage_changed("chunking", 60, "Splitting into chunks")
        chunks = await asyncio.to_thread(chunk_parts, parts)
        vectors = await self._embedding.embed(chunks, reporter)
        await reporter.stage_changed("indexing", 90, f"Indexing {len(chunks)} chunks")
        # Deleting the document cancels this task and then deletes the row: cancelled in the
        # middle of a statement, the connection would keep this transaction (and on SQLite
        # the write lock), so the delete would fail. It runs to its end instead.
        await to_completion(self._index(doc_id, doc.owner_id, chunks, vectors, reporter))
        noun = "chunk" if len(chunks) == 1 else "chunks"
        await reporter.stage_changed("completed", 100, f"Ready: {len(chunks)} {noun} indexed")

    async def _index(
        self,
        doc_id: str,
        owner_id: int,
        chunks: list[TextChunk],
        vectors: Vectors,
        reporter: ProgressReporter,
    ) -> None:
        """Replace the document's chunks and vectors in one transaction guarded by the claim.

        Raises:
            LeaseLost: this instance no longer holds the claim (rolled back).
        """
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
            await self._embedding.store(db, doc_id, owner_id, vectors)
            saved = await db.execute(self._leases.guard(update_row(doc_id)).values(chunk_count=len(chunks)))
            if rows_changed(saved) != 1:
                raise LeaseLost(doc_id)  # rolled back: the instance that holds the claim writes them
            await db.commit()


def update_row(doc_id: str) -> Update:
    return update(Document).where(Document.id == doc_id)
