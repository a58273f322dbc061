"""Uploaded originals in the database, stored by content hash so identical uploads share one row.

In the database rather than on disk so that every instance sharing the database can
process and serve any document: scaling out needs no shared file system.

Sharing is safe because documents reference their blob by foreign key: a blob is stored
in the same transaction as the document that uses it (:meth:`FileStore.store`), and
deleted in the same transaction as the last document that used it, only where no
document references it any more (:meth:`FileStore.forget`). An upload racing a delete of
the same content either finds the blob still there (and its reference keeps it) or fails
its reference check and stores the blob again (:class:`BlobGone`, retried by the caller).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import NotFound
from productdemo.storage.models import Blob, Document


class FileStore:
    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db

    @staticmethod
    async def store(db: AsyncSession, data: bytes) -> str:
        """Store ``data`` in ``db``'s transaction unless identical content is stored; returns its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        values = {"sha256": digest, "size": len(data), "data": data}
        dialect = db.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await db.execute(insert(Blob).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))
        return digest

    @staticmethod
    async def forget(db: AsyncSession, sha256: str) -> bool:
        """In ``db``'s transaction, delete the blob if no document references it; True if deleted."""
        unused = ~exists().where(Document.sha256 == sha256)
        try:
            async with db.begin_nested():
                result = await db.execute(delete(Blob).where(Blob.sha256 == sha256, unused))
        except IntegrityError:
            return False  # referenced by an upload that committed while this delete waited for it
        return bool(getattr(result, "rowcount", 0))

    async def read(self, sha256: str) -> bytes:
        async with self._db() as db:
            data = await db.scalar(select(Blob.data).where(Blob.sha256 == sha256))
        if data is None:
            raise NotFound(f"no stored file {sha256}")
        return bytes(data)
