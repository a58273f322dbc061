"""Migration 0011 on PostgreSQL with pgvector: vectors move to the column and back, none re-embedded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command

from productdemo.config import Config
from productdemo.storage.database import _alembic_config
from tests.services.retrieval.test_search_modes import ALICE_DOC, upload_and_wait
from tests.support import LiveServer, _server_and_name, make_config, new_database

COLUMNS = "SELECT column_name FROM information_schema.columns WHERE table_name = 'chunk_vectors'"


async def _connect(config: Config) -> asyncpg.Connection:
    server, name = _server_and_name(config.database_url)
    return await asyncpg.connect(server.replace("/postgres?", f"/{name}?"))


async def _ranking(live: LiveServer, owner: int) -> list[tuple[int, float]]:
    hits = await live.services.search.retrieve(owner, "automobile winter", "semantic", 5)
    return [(chunk.chunk_id, round(score, 5)) for chunk, score, _ in hits]


async def test_vectors_survive_a_downgrade_and_an_upgrade(tmp_path: Path, pgvector_url: str) -> None:
    """Downgrading to 0010 keeps every vector as bytes; upgrading moves them back; search is unchanged."""
    first = LiveServer(make_config(tmp_path, database={"url": new_database(pgvector_url)}))
    await first.start()
    owner, cookie = await first.user_session()
    await upload_and_wait(first, cookie, "notes.md", ALICE_DOC.encode())
    before = await _ranking(first, owner)
    await first.stop(keep_database=True)

    await asyncio.to_thread(command.downgrade, _alembic_config(first.config.database_url), "0010")
    conn = await _connect(first.config)
    try:
        assert "embedding" not in {r[0] for r in await conn.fetch(COLUMNS)}
        sizes = [r[0] for r in await conn.fetch("SELECT length(vector) FROM chunk_vectors")]
        assert sizes and set(sizes) == {256 * 4}  # the hashing model's 256 float32
    finally:
        await conn.close()

    second = LiveServer(first.config)
    await second.start()  # upgrades to head again
    try:
        assert second.services.search.vector_store == "pgvector"
        conn = await _connect(second.config)
        try:
            nulls = await conn.fetchval("SELECT count(*) FROM chunk_vectors WHERE embedding IS NULL")
            queued = await conn.fetchval("SELECT count(*) FROM documents WHERE status <> 'completed'")
        finally:
            await conn.close()
        assert (nulls, queued) == (0, 0)
        assert before and await _ranking(second, owner) == before
    finally:
        await second.stop()
