"""Claims on documents over the real server: renewal failures, lost claims, the final event.

Races are opened with injected errors and delays in the running server's own objects; each
test fails on the code before the fix (named in its docstring).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, update

from productdemo.realtime.events import Event
from productdemo.realtime.publisher import Publisher
from productdemo.services.documents.leases import Leases
from productdemo.storage.models import Chunk, Document
from tests import sample_files
from tests.support import MS, LiveServer, StartServer, recv_type

PAGES = 1500


@pytest.fixture(scope="module")
def long_pdf() -> bytes:
    """Extraction takes a few seconds: several leases long."""
    return sample_files.long_pdf(PAGES)


async def upload(live: LiveServer, cookie: str, data: bytes) -> str:
    async with live.client(cookies={"connect.sid": cookie}) as http:
        response = await http.post("/api/documents", files=[("files", ("long.pdf", data))])
    assert response.status_code == 201, response.text
    doc_id: str = response.json()["documents"][0]["id"]
    return doc_id


async def statuses(ws: Any, doc_id: str, until: str = "completed") -> list[dict[str, Any]]:
    """The document's status updates, up to the first whose status is ``until``."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(60_000 * MS):
        while not seen or seen[-1]["status"] != until:
            payload = (await recv_type(ws, "document_status_update", 60_000 * MS))["payload"]
            if payload["documentId"] == doc_id:
                seen.append(payload)
    return seen


async def settle(live: LiveServer) -> None:
    """Wait until the processor runs nothing (a second, duplicate run would show up here)."""
    processor = live.services.documents.processor
    async with asyncio.timeout(30_000 * MS):
        while processor._tasks:
            await asyncio.sleep(20 * MS)


async def chunk_rows(live: LiveServer, doc_id: str) -> int:
    async with live.services.db() as db:
        count: int = await db.scalar(select(func.count()).where(Chunk.document_id == doc_id))
    return count


async def indexed_once(live: LiveServer, doc_id: str, events: list[dict[str, Any]]) -> bool:
    """One set of chunks: as many rows as the final event announced, each index once."""
    async with live.services.db() as db:
        rows = await db.scalar(select(func.count()).where(Chunk.document_id == doc_id))
        distinct = await db.scalar(
            select(func.count(Chunk.idx.distinct())).where(Chunk.document_id == doc_id)
        )
    return bool(events[-1]["message"] == f"Ready: {rows} chunks indexed" and rows == distinct)


async def process(live: LiveServer, data: bytes) -> tuple[str, list[dict[str, Any]]]:
    """A new user uploads ``data`` and watches it complete; returns its id and status updates
    once the processor runs nothing."""
    _, cookie = await live.user_session()
    async with live.connect(cookie) as ws:
        await recv_type(ws, "hello")
        doc_id = await upload(live, cookie, data)
        events = await statuses(ws, doc_id)
    await settle(live)
    return doc_id, events


def leases_of(live: LiveServer) -> Leases:
    leases: Leases = live.services.documents.processor._leases
    return leases


async def test_a_failed_renewal_is_retried_and_the_document_is_processed_once(
    start_server: StartServer, long_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One renewal fails (database error): renewal goes on, so the instance's second worker never
    finds the lease run out and never processes the document a second time. (Before: the keeper
    died silently with the error, and the document was processed twice at once.)"""
    live = await start_server(documents={"concurrency": 2, "lease_seconds": 1.5})
    leases = leases_of(live)
    renew = leases.renew
    calls: list[str] = []

    async def flaky_renew(doc_id: str) -> bool:
        calls.append(doc_id)
        if len(calls) == 1:
            raise OSError("connection reset (injected)")
        return await renew(doc_id)

    monkeypatch.setattr(leases, "renew", flaky_renew)
    doc_id, events = await process(live, long_pdf)
    messages = [e["message"] for e in events]
    assert "Resumed after an interruption" not in messages, messages
    assert len(calls) >= 3, calls
    assert await indexed_once(live, doc_id, events)


async def test_a_lease_that_cannot_be_kept_stops_the_work_and_another_worker_finishes_once(
    start_server: StartServer, long_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renewal keeps failing for the first claim: its work is cancelled once the lease would run
    out, the document is taken over (once) and completed once, with one set of chunks."""
    live = await start_server(documents={"concurrency": 2, "lease_seconds": 1.5})
    leases = leases_of(live)
    renew = leases.renew

    async def failing_for_the_first_claim(doc_id: str) -> bool:
        async with live.services.db() as db:
            attempts = await db.scalar(select(Document.attempts).where(Document.id == doc_id))
        if attempts == 1:
            raise OSError("database unreachable (injected)")
        return await renew(doc_id)

    monkeypatch.setattr(leases, "renew", failing_for_the_first_claim)
    doc_id, events = await process(live, long_pdf)
    messages = [e["message"] for e in events]
    assert messages.count("Resumed after an interruption") == 1, messages
    assert [e["status"] for e in events].count("completed") == 1, messages
    assert await indexed_once(live, doc_id, events)


async def test_an_instance_that_lost_its_claim_writes_nothing(
    start_server: StartServer, long_pdf: bytes
) -> None:
    """The claim is taken by another instance while this one extracts (its lease is long, so no
    renewal notices): its next status write finds the claim gone and it stops, leaving status and
    chunks to the new holder. (Before: it overwrote them and completed the document.)"""
    live = await start_server(documents={"concurrency": 1, "lease_seconds": 30})
    _, cookie = await live.user_session()
    async with live.connect(cookie) as ws:
        await recv_type(ws, "hello")
        doc_id = await upload(live, cookie, long_pdf)
        async with asyncio.timeout(60_000 * MS):
            while True:
                payload = (await recv_type(ws, "document_status_update", 60_000 * MS))["payload"]
                if payload["message"].startswith("Extracting text (page"):
                    break
    async with live.services.db() as db:
        await db.execute(update(Document).where(Document.id == doc_id).values(claimed_by="elsewhere"))
        await db.commit()
    await settle(live)
    async with live.services.db() as db:
        doc = await db.get(Document, doc_id)
    assert doc is not None
    assert (doc.status, doc.claimed_by, doc.chunk_count) == ("processing", "elsewhere", 0)
    assert await chunk_rows(live, doc_id) == 0


class SlowFinalEvents:
    """The broker, with the final status event held back: a slow publish after the final write."""

    def __init__(self, inner: Publisher, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    async def to_user(self, user_id: int, event: Event) -> None:
        if getattr(event, "status", None) in ("completed", "failed"):
            await asyncio.sleep(self.delay)
        await self.inner.to_user(user_id, event)

    async def to_topic(self, topic: str, event: Event) -> None:
        await self.inner.to_topic(topic, event)

    async def to_all(self, event: Event) -> None:
        await self.inner.to_all(event)


async def test_the_final_event_is_published_even_when_a_renewal_would_land_after_the_final_write(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The final write gives the claim up; a renewal during the publish after it used to find no
    claim and cancel the task, so the completed event was never sent."""
    live = await start_server(documents={"concurrency": 1, "lease_seconds": 0.3})
    processor = live.services.documents.processor
    monkeypatch.setattr(processor, "_events", SlowFinalEvents(processor._events, 0.5))
    _, cookie = await live.user_session()
    async with live.connect(cookie) as ws:
        await recv_type(ws, "hello")
        doc_id = await upload(live, cookie, sample_files.pdf(["A short document."]))
        events = await statuses(ws, doc_id)
    assert events[-1]["message"] == "Ready: 1 chunk indexed"
