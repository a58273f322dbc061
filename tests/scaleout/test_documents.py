"""Document processing shared by two instances: claims with leases, takeover after a crash."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from tests import sample_files
from tests.scaleout.cluster import Cluster, Frame, Instance, Tab, Tabs
from tests.support import MS

WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord")
BIG_PAGES = 1500


@dataclass
class Nodes:
    cluster: Cluster
    a: Instance
    b: Instance
    cookie: str
    big_pdf: bytes

    def by_id(self, instance_id: str) -> Instance:
        return next(node for node in (self.a, self.b) if node.name == instance_id)


@pytest.fixture(scope="module")
async def nodes(cluster: Cluster) -> AsyncIterator[Nodes]:
    """Instances A and B with one worker each, and a user (dora) who owns the documents."""
    await cluster.create_user("dora")
    started, big = await asyncio.gather(
        cluster.start(2, PRODUCTDEMO_DOCUMENTS_CONCURRENCY="1"),
        # Full pages: extraction in a worker process must take seconds, so the kill lands midway.
        asyncio.to_thread(sample_files.long_pdf, BIG_PAGES, 140),
    )
    a, b = started
    yield Nodes(cluster, a, b, await cluster.login(a, "dora"), big)


async def upload(node: Instance, cookie: str, files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    async with node.client(cookie) as http:
        response = await http.post(
            "/api/documents", files=[("files", (name, data, "application/pdf")) for name, data in files]
        )
    assert response.status_code == 201, response.text
    documents: list[dict[str, Any]] = response.json()["documents"]
    return documents


def updates(tab: Tab, doc_id: str) -> list[dict[str, Any]]:
    """The payloads of a document's status updates on the owner's stream, in order."""
    stream = f"user:{tab.hello['payload']['user']['id']}"
    return [
        f["payload"]
        for f in tab.events("document_status_update", stream)
        if f["payload"]["documentId"] == doc_id
    ]


def is_final(doc_id: str, status: str = "completed") -> Callable[[Frame], bool]:
    def match(f: Frame) -> bool:
        return bool(
            f["type"] == "document_status_update"
            and f["payload"]["documentId"] == doc_id
            and f["payload"]["status"] == status
        )

    return match


class ClaimWatcher:
    """Samples ``documents.claimed_by`` every 20 ms: which instance held which document."""

    def __init__(self, db: asyncpg.Connection) -> None:
        self.db = db
        self.seen: dict[str, set[str]] = {}
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            rows = await self.db.fetch("SELECT id, claimed_by FROM documents WHERE claimed_by IS NOT NULL")
            for row in rows:
                self.seen.setdefault(row["id"], set()).add(row["claimed_by"])
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def chunk_counts(db: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    """document id -> (chunks, distinct chunk indexes)."""
    rows = await db.fetch(
        "SELECT document_id, count(*), count(DISTINCT idx) FROM chunks GROUP BY document_id"
    )
    return {row[0]: (row[1], row[2]) for row in rows}


async def test_two_instances_process_each_document_exactly_once(
    nodes: Nodes, tabs: Tabs, db: asyncpg.Connection
) -> None:
    """Six documents uploaded through A are processed once each by A and B together."""
    a, b, cluster = nodes.a, nodes.b, nodes.cluster
    owner = await tabs.open(a, nodes.cookie, "dora@A")
    files = [
        (
            f"{word}.pdf",
            sample_files.pdf([f"The {word} report."] + [f"Filler page {n}." for n in range(1, 30)]),
        )
        for word in WORDS
    ]
    watcher = ClaimWatcher(db)
    try:
        docs = await upload(a, nodes.cookie, files)
        ids = [doc["id"] for doc in docs]
        for doc_id in ids:
            await cluster.expect(owner.wait_for(is_final(doc_id), 30_000 * MS))
    finally:
        await watcher.stop()
    await owner.quiet()

    for doc_id in ids:
        stages = [(u["stage"], u["message"]) for u in updates(owner, doc_id)]
        assert stages.count(("extracting", "Extracting text")) == 1, stages
        assert [s for s, _ in stages].count("completed") == 1, stages
        assert stages[-1] == ("completed", "Ready: 30 chunks indexed"), stages
        assert len(watcher.seen.get(doc_id, ())) <= 1, watcher.seen
    # Both instances took work from the shared queue (B finds A's uploads by polling).
    assert set().union(*watcher.seen.values()) == {a.name, b.name}, watcher.seen

    async with b.client(nodes.cookie) as http:
        listed = {d["id"]: d for d in (await http.get("/api/documents")).json()["documents"]}
        for word, doc_id in zip(WORDS, ids, strict=True):
            assert (listed[doc_id]["status"], listed[doc_id]["chunkCount"]) == ("completed", 30)
            hits = (await http.get("/api/documents/search", params={"q": word, "mode": "lexical"})).json()[
                "results"
            ]
            assert [(h["documentId"], h["chunkIndex"]) for h in hits] == [(doc_id, 0)], hits
    counts = await chunk_counts(db)
    assert {doc_id: counts[doc_id] for doc_id in ids} == dict.fromkeys(ids, (30, 30))


async def test_a_document_whose_instance_dies_is_completed_by_the_other(
    nodes: Nodes, tabs: Tabs, db: asyncpg.Connection
) -> None:
    """When the instance processing a document is killed, the other takes it over once the lease runs out."""
    cluster = nodes.cluster
    owner = {
        node.name: await tabs.open(node, nodes.cookie, f"dora@{node.name}") for node in (nodes.a, nodes.b)
    }
    (doc,) = await upload(nodes.a, nodes.cookie, [("long.pdf", nodes.big_pdf)])
    doc_id = doc["id"]

    def midway(f: Frame) -> bool:
        return bool(
            f["type"] == "document_status_update"
            and f["payload"]["documentId"] == doc_id
            and f["payload"]["message"].startswith("Extracting text (page")
        )

    await cluster.expect(owner[nodes.a.name].wait_for(midway, 20_000 * MS))
    row = await db.fetchrow("SELECT status, claimed_by FROM documents WHERE id = $1", doc_id)
    assert row is not None and row["status"] == "processing", row
    victim = nodes.by_id(row["claimed_by"])
    survivor = nodes.b if victim is nodes.a else nodes.a
    await cluster.kill(victim)
    killed = time.monotonic()

    tab = owner[survivor.name]
    done = await cluster.expect(tab.wait_for(is_final(doc_id), 40_000 * MS))
    elapsed = time.monotonic() - killed
    assert done["payload"]["message"] == f"Ready: {BIG_PAGES} chunks indexed"
    after_kill = [u for u in updates(tab, doc_id) if u["message"] == "Resumed after an interruption"]
    assert len(after_kill) == 1, updates(tab, doc_id)
    assert after_kill[0]["status"] == "queued"
    async with survivor.client(nodes.cookie) as http:
        final = (await http.get(f"/api/documents/{doc_id}")).json()
    assert (final["status"], final["chunkCount"]) == ("completed", BIG_PAGES)
    assert (await chunk_counts(db))[doc_id] == (BIG_PAGES, BIG_PAGES)
    row = await db.fetchrow("SELECT claimed_by, lease_until FROM documents WHERE id = $1", doc_id)
    assert row is not None and (row["claimed_by"], row["lease_until"]) == (None, None)
    # Lease (2 s) + poll (0.2 s) + a cold worker pool + processing again: about 5-8 s here;
    # generous for a loaded CI machine.
    assert elapsed < 40, elapsed
