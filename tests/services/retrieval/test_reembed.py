"""services/retrieval/reembed.py: a model change re-embeds stored documents, never mixing models."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from productdemo.config import RetrievalSettings
from productdemo.services.retrieval.reembed import requeue_stale
from productdemo.storage.models import ChunkVector
from tests.services.retrieval.conftest import database
from tests.services.retrieval.test_search_modes import ALICE_DOC, search, upload_and_wait
from tests.support import MS, LiveServer, make_config, recv_type


async def _model_ids(server: LiveServer) -> list[str]:
    async with server.services.db() as db:
        return list((await db.execute(select(ChunkVector.model_id))).scalars())


async def test_changing_the_model_reembeds_documents_in_the_background(
    tmp_path: Path, vector_db: str
) -> None:
    """After a restart with another model, documents are embedded again and keep its vectors only."""
    first = LiveServer(make_config(tmp_path, retrieval={"model": "hashing"}, **database(vector_db)))
    await first.start()
    _, cookie = await first.user_session()
    doc_id = await upload_and_wait(first, cookie, "notes.md", ALICE_DOC.encode())
    assert set(await _model_ids(first)) == {"hashing-256"}
    await first.stop(keep_database=True)

    # The same database (and PostgreSQL database name), another model.
    second = LiveServer(first.config.model_copy(update={"retrieval": RetrievalSettings(model="minilm")}))
    await second.start()
    try:
        async with second.client(cookies={"connect.sid": cookie}) as http:
            async with asyncio.timeout(60_000 * MS):
                while (await http.get(f"/api/documents/{doc_id}")).json()["status"] != "completed":
                    await asyncio.sleep(50 * MS)
        assert set(await _model_ids(second)) == {"all-MiniLM-L6-v2-onnx-int8"}
        hits = await search(second, cookie, "car maintenance", "semantic")
        assert hits[0]["section"] == "Vehicles"
    finally:
        await second.stop()


async def test_requeued_documents_are_announced_as_restarted_and_processed_again(server: LiveServer) -> None:
    """A re-queued document's owner gets a 'restarted' queued update live, then the stages to completed."""
    _, cookie = await server.user_session()
    doc_id = await upload_and_wait(server, cookie, "notes.md", ALICE_DOC.encode())
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        assert await requeue_stale(server.services.db, server.services.events, "another-model") >= 1
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(30_000 * MS):
            while not seen or seen[-1]["status"] != "completed":
                payload = (await recv_type(ws, "document_status_update", timeout=30_000 * MS))["payload"]
                if payload["documentId"] == doc_id:
                    seen.append(payload)
    assert (seen[0]["status"], seen[0]["restarted"]) == ("queued", True)
    assert seen[0]["message"] == "Queued: embedding with another-model"
    assert "embedding" in [u["stage"] for u in seen] and not any(u["restarted"] for u in seen[1:])
