"""Uploaded originals in the database, stored by content hash so identical uploads share one row.

In the database rather than on disk so that every instance sharing the database can
process and serve any document: scaling out needs no shared file system.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import NotFound
from productdemo.storage.models import Blob


class FileStore:
    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db

    async def save(self, data: bytes) -> str:
        """Store ``data`` unless identical content is stored already; returns its SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        async with self._db() as db:
            if await db.scalar(select(Blob.sha256).where(Blob.sha256 == digest)) is not None:
                return digest
            db.add(Blob(sha256=digest, size=len(data), data=data))
            try:
                await db.commit()
            except IntegrityError:
                pass  # stored meanwhile by a concurrent upload of the same content
        return digest

    async def read(self, sha256: str) -> bytes:
        async with self._db() as db:
            data = await db.scalar(select(Blob.data).where(Blob.sha256 == sha256))
        if data is None:
            raise NotFound(f"no stored file {sha256}")
        return bytes(data)

    async def delete(self, sha256: str) -> None:
        async with self._db() as db:
            await db.execute(delete(Blob).where(Blob.sha256 == sha256))
            await db.commit()
