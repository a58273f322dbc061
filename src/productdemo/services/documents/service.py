"""Documents: upload, list, fetch, delete — the owner's view. Processing is ``processor.py``."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import BadRequest, DomainError, NotFound, TooLarge
from productdemo.realtime.events import Event
from productdemo.realtime.publisher import Publisher
from productdemo.services.documents.errors import DocumentError
from productdemo.services.documents.events import DocumentDeleted, DocumentStatusUpdate
from productdemo.services.documents.files import FileStore
from productdemo.services.documents.processor import DocumentProcessor
from productdemo.services.documents.sniff import SniffResult, sniff
from productdemo.storage.models import Document

logger = logging.getLogger(__name__)

MAX_FILES = 20
MAX_NAME = 255
UPLOAD_ATTEMPTS = 3
MAX_SUFFIX = 16


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    data: bytes


def _clean_name(filename: str) -> str:
    # Keep only the last path component, drop control characters; shown as text, never as a path.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name:
        raise BadRequest("a file has no name")
    if not name.strip("."):
        raise BadRequest(f"{name!r} is not a file name")
    if len(name) <= MAX_NAME:
        return name
    # Shorten the stem, not the extension: the type check and the download both need it.
    suffix = PurePosixPath(name).suffix
    if len(suffix) > MAX_SUFFIX:
        suffix = ""
    return name[: MAX_NAME - len(suffix)] + suffix


class DocumentService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        events: Publisher,
        files: FileStore,
        processor: DocumentProcessor,
        max_size: int,
    ) -> None:
        self._db = db
        self._events = events
        self._files = files
        self.processor = processor
        self.max_size = max_size

    async def upload(self, owner_id: int, uploads: list[Upload]) -> list[Document]:
        """Check every file, then store and queue them all; one bad file rejects the request.

        Raises:
            BadRequest: no files, too many, or a nameless one. TooLarge: over the size limit.
            UnsupportedType: not txt, md, html, pdf or docx, or the name and content disagree.
        """
        if not uploads:
            raise BadRequest("no files were uploaded (use the form field 'files')")
        if len(uploads) > MAX_FILES:
            raise BadRequest(f"at most {MAX_FILES} files per upload")
        checked = []
        for upload in uploads:
            name = _clean_name(upload.filename)
            if len(upload.data) > self.max_size:
                raise TooLarge(f"{name}: {len(upload.data)} bytes; the limit is {self.max_size} bytes")
            try:
                found = await asyncio.to_thread(sniff, upload.data, name)
            except DocumentError as exc:
                raise type(exc)(f"{name}: {exc.reason}") from None
            checked.append((name, upload.data, found))
        for attempt in range(UPLOAD_ATTEMPTS):
            try:
                documents = await self._store(owner_id, checked)
                break
            except IntegrityError:
                # A delete removed a blob this upload counted on; storing it again succeeds.
                if attempt == UPLOAD_ATTEMPTS - 1:
                    raise
        # Stored: from here on nothing may turn the answer into a failure.
        self.processor.submit()
        for doc in documents:
            await self._publish(owner_id, [], _snapshot_event(doc))
        return documents

    async def _store(self, owner_id: int, checked: list[tuple[str, bytes, SniffResult]]) -> list[Document]:
        """Every blob and document in one transaction: the documents' references keep the blobs."""
        now = datetime.now(UTC)
        documents = []
        async with self._db() as db:
            for name, data, found in checked:
                digest = await self._files.store(db, data)
                doc = Document(
                    id="d_" + secrets.token_hex(8),
                    owner_id=owner_id,
                    filename=name,
                    kind=found.kind.value,
                    encoding=found.encoding,
                    size=len(data),
                    sha256=digest,
                    status="queued",
                    stage="queued",
                    progress=0,
                    message="Queued",
                    error=None,
                    chunk_count=0,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
                db.add(doc)
                documents.append(doc)
            await db.commit()
        return documents

    async def _publish(self, owner_id: int, topics: list[str], event: Event) -> None:
        """Best effort, after the commit: clients that miss it catch up by resync and REST."""
        try:
            await self._events.to_user(owner_id, event)
            for topic in topics:
                await self._events.to_topic(topic, event)
        except DomainError as exc:
            logger.warning("event %s for user %d not published: %s", event.event_type, owner_id, exc)

    async def list(self, owner_id: int) -> list[Document]:
        async with self._db() as db:
            rows = await db.scalars(
                select(Document).where(Document.owner_id == owner_id).order_by(Document.created_at.desc())
            )
            return list(rows.all())

    async def get(self, owner_id: int, doc_id: str) -> Document:
        """The caller's document. Raises NotFound for a missing one and for another user's."""
        async with self._db() as db:
            doc = await db.get(Document, doc_id)
        if doc is None or doc.owner_id != owner_id:
            raise NotFound(f"no document {doc_id!r}")
        return doc

    async def owner_of(self, doc_id: str) -> int | None:
        async with self._db() as db:
            return await db.scalar(select(Document.owner_id).where(Document.id == doc_id))

    async def original(self, doc: Document) -> bytes:
        """The file as uploaded."""
        return await self._files.read(doc.sha256)

    async def delete(self, owner_id: int, doc_id: str) -> None:
        """Cancel processing, remove the document, its chunks and (if unshared) its file."""
        doc = await self.get(owner_id, doc_id)
        await self.processor.cancel(doc_id)
        async with self._db() as db:
            await db.execute(delete(Document).where(Document.id == doc_id))
            await self._files.forget(db, doc.sha256)
            await db.commit()
        await self._publish(owner_id, [f"document:{doc_id}"], DocumentDeleted(document_id=doc_id))


def _snapshot_event(doc: Document) -> DocumentStatusUpdate:
    return DocumentStatusUpdate(
        document_id=doc.id,
        status=doc.status,
        stage=doc.stage,
        progress=doc.progress,
        message=doc.message,
        error=doc.error,
    )
