"""An install's stored output: the first half of ``limit`` bytes, then a rolling last half.

Chunks are stored as written, each with its byte offset in the whole output. Once the tail
holds more than its half, its oldest chunks are deleted; a reader sees the hole as a jump in
offsets (the download marks it "N bytes omitted"). Only the instance running the install
writes, and only while it holds the claim.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.storage.database import to_completion
from productdemo.storage.models import McpInstall, McpLogChunk


class ClaimLost(Exception):
    """The install is no longer claimed by this instance; stop writing."""


@dataclass(frozen=True)
class LogChunk:
    offset: int
    stream: str
    data: str


class LogWriter:
    """Appends one install's output, keeping it within ``limit`` bytes."""

    def __init__(self, db: async_sessionmaker[AsyncSession], install_id: str, owner: str, limit: int) -> None:
        self._db = db
        self._install_id = install_id
        self._owner = owner
        self._head_limit = limit // 2
        self._tail_limit = limit - self._head_limit
        self._tail: deque[tuple[int, int]] = deque()  # (chunk id, size)
        self._tail_size = 0

    async def append(self, stream: str, offset: int, data: str) -> None:
        """Raises:
        ClaimLost: another instance took the install over (or it was finished elsewhere).
        """
        # Called from the output timer, which is cancelled when the install ends: the
        # transaction runs to its end regardless (storage/database.py, to_completion).
        await to_completion(self._append(stream, offset, data))

    async def _append(self, stream: str, offset: int, data: str) -> None:
        size = len(data.encode())
        async with self._db() as db:
            claimed = await db.execute(
                update(McpInstall)
                .where(McpInstall.id == self._install_id, McpInstall.claimed_by == self._owner)
                .values(log_size=offset + size)
            )
            if not getattr(claimed, "rowcount", 1):
                await db.rollback()
                raise ClaimLost(self._install_id)
            chunk = McpLogChunk(
                install_id=self._install_id, offset=offset, size=size, stream=stream, data=data
            )
            db.add(chunk)
            await db.flush()
            if offset >= self._head_limit:
                self._tail.append((chunk.id, size))
                self._tail_size += size
                dropped = []
                while self._tail_size > self._tail_limit and len(self._tail) > 1:
                    chunk_id, old = self._tail.popleft()
                    self._tail_size -= old
                    dropped.append(chunk_id)
                if dropped:
                    await db.execute(delete(McpLogChunk).where(McpLogChunk.id.in_(dropped)))
            await db.commit()


async def read_log(
    db: async_sessionmaker[AsyncSession], install_id: str, offset: int, limit: int | None = None
) -> list[LogChunk]:
    """The stored chunks from byte ``offset`` on (at most ``limit`` of them), the first cut to
    start there if it must be."""
    query = (
        select(McpLogChunk.offset, McpLogChunk.stream, McpLogChunk.data)
        .where(McpLogChunk.install_id == install_id, McpLogChunk.offset + McpLogChunk.size > offset)
        .order_by(McpLogChunk.offset)
        .limit(limit)
    )
    async with db() as session:
        rows = await session.execute(query)
        chunks = [LogChunk(int(o), str(s), str(d)) for o, s, d in rows]
    if chunks and chunks[0].offset < offset:
        first = chunks[0]
        raw = first.data.encode()[offset - first.offset :]
        # Start at a character boundary: skip UTF-8 continuation bytes.
        skip = 0
        while skip < len(raw) and raw[skip] & 0xC0 == 0x80:
            skip += 1
        chunks[0] = LogChunk(offset + skip, first.stream, raw[skip:].decode())
    return chunks


def render_text(chunks: list[LogChunk]) -> str:
    """The log as one text, with a marker where stored output was dropped."""
    parts: list[str] = []
    expected = 0
    for chunk in chunks:
        if chunk.offset > expected:
            parts.append(f"\n[... {chunk.offset - expected} bytes omitted ...]\n")
        parts.append(chunk.data)
        expected = chunk.offset + len(chunk.data.encode())
    return "".join(parts)
