"""services/documents/processor.py: restart safety and cancellation, over the real server."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests import sample_files
from tests.services.documents.test_workers import worker_pids
from tests.support import MS, LiveServer, StartServer, make_config, recv_type


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


async def test_a_file_that_kills_its_worker_fails_after_max_attempts_and_others_still_process(
    start_server: StartServer,
) -> None:
    """The extraction process is SIGKILLed during every attempt on one file (as the OOM killer
    would): the file is queued again, then fails with a reason after ``max_attempts``; the pool
    recovers, the next file completes and /api/ready stays green. (Before: every later document
    failed with BrokenProcessPool, then extraction waited forever for a leaked slot.)"""
    live = await start_server(documents={"concurrency": 1, "max_attempts": 2})
    pool = live.services.documents.processor.extraction
    _, cookie = await live.user_session()
    async with live.connect(cookie) as ws:
        await recv_type(ws, "hello")
        async with live.client(cookies={"connect.sid": cookie}) as http:
            response = await http.post(
                "/api/documents", files=[("files", ("poison.pdf", sample_files.long_pdf(2000)))]
            )
        doc_id = response.json()["documents"][0]["id"]
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(120_000 * MS):
            while not events or events[-1]["status"] != "failed":
                payload = (await recv_type(ws, "document_status_update", 60_000 * MS))["payload"]
                if payload["documentId"] != doc_id:
                    continue
                events.append(payload)
                if payload["message"].startswith("Extracting text (page"):
                    for pid in worker_pids(pool):
                        os.kill(pid, signal.SIGKILL)
        messages = [e["message"] for e in events]
        assert messages.count("Queued again: the extraction process stopped") == 2, messages
        assert "stopped unexpectedly 2 times" in (events[-1]["error"] or ""), events[-1]
        async with live.client(cookies={"connect.sid": cookie}) as http:
            response = await http.post(
                "/api/documents", files=[("files", ("ok.pdf", sample_files.pdf(["fine"])))]
            )
            ok_id = response.json()["documents"][0]["id"]
            for _ in range(600):
                if (await http.get(f"/api/documents/{ok_id}")).json()["status"] == "completed":
                    break
                await asyncio.sleep(50 * MS)
            assert (await http.get(f"/api/documents/{ok_id}")).json()["status"] == "completed"
            assert (await http.get("/api/ready")).status_code == 200


async def test_readiness_reports_a_pool_that_cannot_start_workers(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While no worker process can be started, /api/ready answers 503 and says why."""
    live = await start_server()
    pool = live.services.documents.processor.extraction
    monkeypatch.setattr(pool, "broken", "cannot start worker processes (OSError: injected)")
    async with live.client() as http:
        response = await http.get("/api/ready")
    assert response.status_code == 503
    assert (
        response.json()["checks"]["extraction"]
        == "broken (cannot start worker processes (OSError: injected))"
    )
