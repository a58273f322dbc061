"""services/documents/processor.py: restart safety and cancellation, over the real server."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool
from sqlalchemy.util import await_only

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


async def test_deleting_a_document_mid_statement_leaves_the_database_writable(
    start_server: StartServer,
) -> None:
    """A delete that cancels processing while SQLite runs a statement of its indexing
    transaction answers 204 within seconds, and the next upload is stored and processed.
    (Before: the cancelled connection was closed with the statement unfinished, kept its
    transaction and the write lock, and the delete failed with "database is locked" after
    the 30 s busy timeout.)"""
    live = await start_server(documents={"concurrency": 1})
    if not live.config.database_url.startswith("sqlite"):
        pytest.skip("the write lock held by an unfinished statement is SQLite's")
    _, cookie = await live.user_session()
    reached, release = threading.Event(), threading.Event()

    def trace(statement: str) -> None:
        # Runs in the driver's thread as SQLite starts a statement: blocking here keeps the
        # task awaiting the driver, inside the transaction that replaced the chunks.
        if statement.startswith("SELECT chunks.id") and not release.is_set():
            reached.set()
            release.wait(10)

    def traced(dbapi_connection: Any, *_: Any) -> None:
        await_only(dbapi_connection.driver_connection.set_trace_callback(trace))

    event.listen(Pool, "checkout", traced)
    try:
        async with live.client(cookies={"connect.sid": cookie}) as http:
            response = await http.post("/api/documents", files=[("files", ("a.txt", b"Rivers and bridges."))])
            doc_id = response.json()["documents"][0]["id"]
            try:
                async with asyncio.timeout(10_000 * MS):
                    while not reached.is_set():
                        await asyncio.sleep(10 * MS)
            except TimeoutError:
                pytest.fail("no SELECT of chunk ids in the indexing transaction (retrieval/stage.py store)")
            deleting = asyncio.ensure_future(http.delete(f"/api/documents/{doc_id}"))
            await asyncio.sleep(200 * MS)  # the delete cancels the task while the statement runs
            release.set()
            async with asyncio.timeout(5000 * MS):
                assert (await deleting).status_code == 204
                response = await http.post(
                    "/api/documents", files=[("files", ("b.txt", b"Another short note."))]
                )
                assert response.status_code == 201
                other = response.json()["documents"][0]["id"]
                while (await http.get(f"/api/documents/{other}")).json()["status"] != "completed":
                    await asyncio.sleep(50 * MS)
            assert (await http.get(f"/api/documents/{doc_id}")).status_code == 404
    finally:
        release.set()
        event.remove(Pool, "checkout", traced)
