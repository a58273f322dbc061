"""services/documents/processor.py: restart safety and cancellation, over the real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests import sample_files
from tests.support import MS, LiveServer, make_config


async def _status(live: LiveServer, cookie: str, doc_id: str) -> str:
    async with live.client(cookies={"connect.sid": cookie}) as http:
        return str((await http.get(f"/api/documents/{doc_id}")).json()["status"])


async def test_unfinished_documents_are_processed_after_a_restart(tmp_path: Path) -> None:
    """Documents left queued or processing when the server stopped are completed after it restarts."""
    config = make_config(tmp_path, documents={"concurrency": 1})
    live = LiveServer(config)
    await live.start()
    _, cookie = await live.user_session()
    pages = [f"Page {n} of a long report about rivers and bridges." for n in range(60)]
    async with live.client(cookies={"connect.sid": cookie}) as http:
        response = await http.post(
            "/api/documents",
            files=[("files", (f"r{i}.pdf", sample_files.pdf(pages))) for i in range(3)],
        )
    doc_ids = [d["id"] for d in response.json()["documents"]]
    await live.stop(keep_database=True)
    statuses = [await _status_offline(config, d) for d in doc_ids]
    assert set(statuses) & {"queued", "processing"}
    restarted = LiveServer(config)
    await restarted.start()
    try:
        for _ in range(600):
            if all([await _status(restarted, cookie, d) == "completed" for d in doc_ids]):
                break
            await asyncio.sleep(50 * MS)
        assert [await _status(restarted, cookie, d) for d in doc_ids] == ["completed"] * 3
    finally:
        await restarted.stop()


async def _status_offline(config: object, doc_id: str) -> str:
    from productdemo.storage.database import create_engine, create_session_factory
    from productdemo.storage.models import Document

    engine = create_engine(config.database_url)  # type: ignore[attr-defined]
    try:
        async with create_session_factory(engine)() as db:
            doc = await db.get(Document, doc_id)
            assert doc is not None
            return doc.status
    finally:
        await engine.dispose()
