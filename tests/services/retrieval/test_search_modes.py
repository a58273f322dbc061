"""Hybrid, semantic and lexical search over the real server with the real model (MiniLM)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.services.retrieval.conftest import database
from tests.support import MS, LiveServer, StartServer, recv_type

ALICE_DOC = (
    "# Vehicles\n\nThe automobile needs new tyres before the winter trip.\n\n"
    "# Garden\n\nTomatoes ripen faster in a sunny greenhouse.\n"
)
BOB_DOC = "# Vehicles\n\nBob's automobile is parked in the garage next to the tomatoes.\n"


async def upload_and_wait(server: LiveServer, cookie: str, name: str, data: bytes) -> str:
    """Upload ``data`` and wait until it is processed; returns the document id."""
    async with server.client(cookies={"connect.sid": cookie}) as http:
        response = await http.post("/api/documents", files=[("files", (name, data))])
        doc_id: str = response.json()["documents"][0]["id"]
        async with asyncio.timeout(60_000 * MS):
            while (status := (await http.get(f"/api/documents/{doc_id}")).json()["status"]) != "completed":
                assert status != "failed"
                await asyncio.sleep(50 * MS)
    return doc_id


async def search(server: LiveServer, cookie: str, q: str, mode: str | None = None) -> list[dict[str, Any]]:
    params = {"q": q} | ({"mode": mode} if mode else {})
    async with server.client(cookies={"connect.sid": cookie}) as http:
        response = await http.get("/api/documents/search", params=params)
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["results"]
    return hits


@pytest.fixture(scope="module")
async def minilm(tmp_path_factory: pytest.TempPathFactory, vector_db: str) -> Any:
    """A server embedding with the real packaged model, on each vector store, for this module."""
    from tests.support import make_config

    sections = {"retrieval": {"model": "minilm"}} | database(vector_db)
    live = LiveServer(make_config(tmp_path_factory.mktemp("minilm"), **sections))
    await live.start()
    assert live.services.search.vector_store == ("pgvector" if vector_db else "numpy")
    yield live
    await live.stop()


async def test_semantic_and_hybrid_find_a_passage_that_shares_no_word(minilm: LiveServer) -> None:
    """ "car" finds the automobile by meaning; lexical finds nothing; hybrid says why each hit matched."""
    _, cookie = await minilm.user_session()
    await upload_and_wait(minilm, cookie, "notes.md", ALICE_DOC.encode())
    assert await search(minilm, cookie, "car maintenance", "lexical") == []
    semantic = await search(minilm, cookie, "car maintenance", "semantic")
    assert semantic[0]["section"] == "Vehicles" and semantic[0]["matched"] == "meaning"
    assert semantic[0]["highlights"] == []
    hybrid = await search(minilm, cookie, "car maintenance")
    assert (hybrid[0]["section"], hybrid[0]["matched"]) == ("Vehicles", "meaning")
    both = await search(minilm, cookie, "automobile tyres")
    assert (both[0]["section"], both[0]["matched"]) == ("Vehicles", "both")
    marked = {both[0]["snippet"][s:e].lower() for s, e in both[0]["highlights"]}
    assert marked == {"automobile", "tyres"}


async def test_every_mode_returns_only_the_callers_chunks(minilm: LiveServer) -> None:
    """Two users whose documents share words and meaning each retrieve only their own, in every mode."""
    alice, alice_cookie = await minilm.user_session()
    bob, bob_cookie = await minilm.user_session()
    await upload_and_wait(minilm, alice_cookie, "alice.md", ALICE_DOC.encode())
    await upload_and_wait(minilm, bob_cookie, "bob.md", BOB_DOC.encode())
    for mode in ("lexical", "semantic", "hybrid"):
        alice_hits = await search(minilm, alice_cookie, "automobile tomatoes", mode)
        bob_hits = await search(minilm, bob_cookie, "automobile tomatoes", mode)
        assert alice_hits and {h["filename"] for h in alice_hits} == {"alice.md"}, mode
        assert bob_hits and {h["filename"] for h in bob_hits} == {"bob.md"}, mode
    passages = await minilm.services.search.passages(bob, "vehicle in the garage")
    assert {p.filename for p in passages} == {"bob.md"}
    assert {p.filename for p in await minilm.services.search.passages(alice, "garage")} <= {"alice.md"}


async def test_embedding_stage_reports_chunks_embedded(start_server: StartServer) -> None:
    """document_status_update shows the embedding stage with "Embedded n of N chunks" progress."""
    server = await start_server(retrieval={"model": "minilm", "batch_size": 2})
    _, cookie = await server.user_session()
    text = "\n\n".join(
        f"# Part {n}\n\n" + f"Paragraph {n} is about harbours and ships. " * 30 for n in range(8)
    )
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        async with server.client(cookies={"connect.sid": cookie}) as http:
            doc_id = (
                await http.post("/api/documents", files=[("files", ("ships.md", text.encode()))])
            ).json()["documents"][0]["id"]
        events: list[dict[str, Any]] = []
        async with asyncio.timeout(60_000 * MS):
            while not events or events[-1]["status"] not in ("completed", "failed"):
                frame = await recv_type(ws, "document_status_update", timeout=60_000 * MS)
                if frame["payload"]["documentId"] == doc_id:
                    events.append(frame["payload"])
    embedding = [e for e in events if e["stage"] == "embedding"]
    assert embedding[0]["message"].startswith("Embedding ")
    assert any(e["message"].startswith("Embedded ") and " of " in e["message"] for e in embedding)
    assert events[-1]["status"] == "completed"
    assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)
