"""The stored log: bounded head + rolling tail, read back by offset, with an omitted marker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.services.mcp.logstore import ClaimLost, LogWriter, read_log, render_text
from productdemo.storage.database import create_engine, create_session_factory, upgrade
from productdemo.storage.models import McpHost, McpInstall


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'log.db'}"
    await upgrade(url)
    engine = create_engine(url)
    factory = create_session_factory(engine)
    now = datetime.now(UTC)
    async with factory() as session:
        session.add(
            McpHost(id="h", name="h", hostname="x", port=22, username="u", private_key=b"", created_at=now)
        )
        await session.flush()
        session.add(
            McpInstall(
                id="i",
                host_id="h",
                server_id="1",
                server_name="s",
                command="c",
                launch_command="l",
                verify_only=False,
                state="running",
                message="",
                cancel_requested=False,
                log_size=0,
                claimed_by="me",
                created_at=now,
                updated_at=now,
            )
        )
        await session.commit()
    yield factory
    await engine.dispose()


async def test_log_keeps_head_and_rolling_tail(db: async_sessionmaker[AsyncSession]) -> None:
    """Past the limit the middle is dropped: the head and the latest tail stay, the gap is marked."""
    writer = LogWriter(db, "i", "me", limit=4096)
    offset = 0
    for i in range(100):
        text = f"{i:04d}" + "x" * 95 + "\n"
        await writer.append("stdout", offset, text)
        offset += len(text)
    chunks = await read_log(db, "i", 0)
    kept = sum(len(c.data) for c in chunks)
    assert kept <= 4096 + 100
    assert chunks[0].offset == 0 and chunks[0].data.startswith("0000")
    assert chunks[-1].data.startswith("0099")
    rendered = render_text(chunks)
    gap = next(c.offset for c, prev in zip(chunks[1:], chunks, strict=False) if c.offset > prev.offset + 100)
    assert "bytes omitted" in rendered
    assert f"[... {gap - 2100} bytes omitted ...]" in rendered


async def test_read_from_an_offset_inside_a_chunk(db: async_sessionmaker[AsyncSession]) -> None:
    """Reading from the middle of a chunk starts at that byte, on a character boundary."""
    writer = LogWriter(db, "i", "me", limit=1 << 20)
    await writer.append("stdout", 0, "héllo\n")
    await writer.append("stderr", 7, "bad\n")
    assert [(c.offset, c.data) for c in await read_log(db, "i", 3)] == [(3, "llo\n"), (7, "bad\n")]
    assert [(c.offset, c.data) for c in await read_log(db, "i", 2)] == [(3, "llo\n"), (7, "bad\n")]
    assert [(c.offset, c.stream) for c in await read_log(db, "i", 7)] == [(7, "stderr")]


async def test_writes_need_the_claim(db: async_sessionmaker[AsyncSession]) -> None:
    """An instance that no longer holds the claim cannot add output."""
    with pytest.raises(ClaimLost):
        await LogWriter(db, "i", "someone-else", limit=4096).append("stdout", 0, "late\n")
    assert await read_log(db, "i", 0) == []


async def test_reads_come_in_pages(db: async_sessionmaker[AsyncSession]) -> None:
    """A limited read returns the first chunks; reading on from their end returns the rest."""
    writer = LogWriter(db, "i", "me", limit=1 << 20)
    for i in range(5):
        await writer.append("stdout", 2 * i, f"{i}\n")
    first = await read_log(db, "i", 0, limit=2)
    assert [c.data for c in first] == ["0\n", "1\n"]
    rest = await read_log(db, "i", first[-1].offset + 2, limit=2)
    assert [c.offset for c in rest] == [4, 6]
