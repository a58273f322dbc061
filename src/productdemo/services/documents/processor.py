"""Background processing: extract, chunk, index — with bounded concurrency and live progress.

Each document is one task; at most ``concurrency`` run at once. Extraction and chunking
are CPU work and run in a worker thread, so the event loop keeps serving sockets; the
thread reports pages through a shared variable the task reads every
``min_interval`` seconds. Deleting a document cancels its task and stops the thread at
its next page. On start-up, documents left in a non-final state by a previous process
are queued again, so none stays "processing" forever.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime

from sqlalchemy import Update, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import DomainError
from productdemo.realtime.publisher import Publisher
from productdemo.services.documents.chunking import chunk_parts
from productdemo.services.documents.errors import DocumentError
from productdemo.services.documents.events import DocumentStatusUpdate
from productdemo.services.documents.extract import extract
from productdemo.services.documents.files import FileStore
from productdemo.services.documents.progress import ProgressReporter
from productdemo.services.documents.sniff import DocumentKind
from productdemo.storage.models import Chunk, Document

logger = logging.getLogger(__name__)

INDEX_BATCH = 200
UNFINISHED = ("queued", "processing")


class _Cancelled(Exception):
    """Raised inside the worker thread to stop extracting a deleted document."""


class DocumentProcessor:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        events: Publisher,
        files: FileStore,
        concurrency: int,
        min_interval: float = 0.1,
    ) -> None:
        self._db = db
        self._events = events
        self._files = files
        self._slots = asyncio.Semaphore(concurrency)
        self._min_interval = min_interval
        self._tasks: dict[str, tuple[asyncio.Task[None], threading.Event]] = {}

    async def start(self) -> None:
        """Queue again every document a previous process left unfinished."""
        async with self._db() as db:
            rows = (
                await db.execute(
                    select(Document.id, Document.owner_id)
                    .where(Document.status.in_(UNFINISHED))
                    .order_by(Document.created_at)
                )
            ).all()
        for doc_id, owner_id in rows:
            logger.info("document %s was interrupted; queued again", doc_id)
            reporter = self._reporter(doc_id, owner_id)
            await reporter.stage_changed("queued", 0, "Queued again after a restart")
            self.submit(doc_id, owner_id)

    def submit(self, doc_id: str, owner_id: int) -> None:
        """Process ``doc_id`` in the background."""
        cancel = threading.Event()
        task = asyncio.get_running_loop().create_task(
            self._run(doc_id, owner_id, cancel), name=f"doc-{doc_id}"
        )
        self._tasks[doc_id] = (task, cancel)
        task.add_done_callback(lambda _t: self._tasks.pop(doc_id, None))

    async def cancel(self, doc_id: str) -> None:
        """Stop processing ``doc_id`` and wait until it has stopped."""
        entry = self._tasks.get(doc_id)
        if entry is None:
            return
        task, cancel = entry
        cancel.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def stop(self) -> None:
        for doc_id in list(self._tasks):
            await self.cancel(doc_id)

    async def idle(self) -> None:
        """Wait until nothing is being processed (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*(t for t, _ in list(self._tasks.values())), return_exceptions=True)

    def _reporter(self, doc_id: str, owner_id: int) -> ProgressReporter:
        async def sink(update: DocumentStatusUpdate, save: bool) -> None:
            if save:
                async with self._db() as db:
                    await db.execute(
                        update_row(doc_id).values(
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

    async def _run(self, doc_id: str, owner_id: int, cancel: threading.Event) -> None:
        async with self._slots:
            reporter = self._reporter(doc_id, owner_id)
            try:
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

    async def _process(self, doc_id: str, reporter: ProgressReporter, cancel: threading.Event) -> None:
        async with self._db() as db:
            doc = await db.get(Document, doc_id)
        if doc is None:
            return
        kind = DocumentKind(doc.kind)
        await reporter.stage_changed("extracting", 5, "Extracting text")
        data = await asyncio.to_thread(self._files.read, doc.sha256)
        pages = [0, 0]

        def on_progress(done: int, total: int) -> None:
            if cancel.is_set():
                raise _Cancelled
            pages[0], pages[1] = done, total

        work = asyncio.ensure_future(
            asyncio.to_thread(extract, data, kind, encoding=doc.encoding, on_progress=on_progress)
        )
        while not work.done():
            await asyncio.wait({work}, timeout=self._min_interval)
            done, total = pages
            if total:
                await reporter.advanced(5 + 55 * done // total, f"Extracting text (page {done} of {total})")
        parts = work.result()
        await reporter.stage_changed("chunking", 60, "Splitting into chunks")
        chunks = await asyncio.to_thread(chunk_parts, parts)
        await reporter.stage_changed("indexing", 70, f"Indexing {len(chunks)} chunks")
        async with self._db() as db:
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
                    70 + 29 * done // len(chunks), f"Indexed {done} of {len(chunks)} chunks"
                )
            await db.execute(update_row(doc_id).values(chunk_count=len(chunks)))
            await db.commit()
        noun = "chunk" if len(chunks) == 1 else "chunks"
        await reporter.stage_changed("completed", 100, f"Ready: {len(chunks)} {noun} indexed")


def update_row(doc_id: str) -> Update:
    return update(Document).where(Document.id == doc_id)
