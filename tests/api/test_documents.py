"""api/documents.py over the real server: upload, live status events, search, authorization."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests import sample_files
from tests.support import MS, LiveServer, recv_type, send_json


async def _upload(server: LiveServer, cookie: str, *files: tuple[str, bytes]) -> Any:
    async with server.client(cookies={"connect.sid": cookie}) as http:
        return await http.post("/api/documents", files=[("files", f) for f in files])


async def _statuses(ws: Any, doc_id: str, timeout: float = 20_000 * MS) -> list[dict[str, Any]]:
    """Every document_status_update for ``doc_id`` until its final one."""
    return (await _all_statuses(ws, [doc_id], timeout))[doc_id]


async def _all_statuses(
    ws: Any, doc_ids: list[str], timeout: float = 20_000 * MS
) -> dict[str, list[dict[str, Any]]]:
    """Every document_status_update for each of ``doc_ids`` until all are final."""
    seen: dict[str, list[dict[str, Any]]] = {d: [] for d in doc_ids}
    pending = set(doc_ids)
    async with asyncio.timeout(timeout):
        while pending:
            payload = (await recv_type(ws, "document_status_update", timeout))["payload"]
            if payload["documentId"] in seen:
                seen[payload["documentId"]].append(payload)
                if payload["status"] in ("completed", "failed"):
                    pending.discard(payload["documentId"])
    return seen


async def test_pdf_is_processed_with_a_complete_ordered_event_sequence(server: LiveServer) -> None:
    """A multi-page PDF goes queued -> extracting -> chunking -> embedding -> indexing -> completed,
    live, with progress that never goes backwards, and then the REST snapshot agrees."""
    _, cookie = await server.user_session()
    data = sample_files.pdf([f"Page {n} talks about lighthouses and harbours." for n in range(1, 6)])
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        response = await _upload(server, cookie, ("harbour.pdf", data))
        assert response.status_code == 201
        (doc,) = response.json()["documents"]
        assert (doc["filename"], doc["kind"], doc["status"]) == ("harbour.pdf", "pdf", "queued")
        events = await _statuses(ws, doc["id"])
    stages = [e["stage"] for e in events]
    assert stages[0] == "queued"
    assert [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]] == [
        "queued",
        "extracting",
        "chunking",
        "embedding",
        "indexing",
        "completed",
    ]
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress)
    assert events[-1] == {
        "documentId": doc["id"],
        "status": "completed",
        "stage": "completed",
        "progress": 100,
        "message": events[-1]["message"],
        "error": None,
        "restarted": False,
    }
    async with server.client(cookies={"connect.sid": cookie}) as http:
        snapshot = (await http.get(f"/api/documents/{doc['id']}")).json()
        listed = (await http.get("/api/documents")).json()["documents"]
    assert (snapshot["status"], snapshot["progress"], snapshot["chunkCount"] > 0) == ("completed", 100, True)
    assert [d["id"] for d in listed] == [doc["id"]]


async def test_search_finds_highlighted_chunks_of_own_documents_only(server: LiveServer) -> None:
    """Search returns ranked chunks with highlight ranges, and never another user's documents."""
    _, alice = await server.user_session()
    _, bob = await server.user_session()
    async with server.connect(alice) as ws:
        await recv_type(ws, "hello")
        doc = (
            await _upload(server, alice, ("notes.md", b"# Birds\n\nThe albatross glides for hours."))
        ).json()
        await _statuses(ws, doc["documents"][0]["id"])
    async with server.client(cookies={"connect.sid": alice}) as http:
        hits = (await http.get("/api/documents/search", params={"q": "albatross"})).json()["results"]
    assert len(hits) == 1
    hit = hits[0]
    start, end = hit["highlights"][0]
    assert hit["snippet"][start:end].lower() == "albatross"
    assert (hit["filename"], hit["section"]) == ("notes.md", "Birds")
    async with server.client(cookies={"connect.sid": bob}) as http:
        assert (await http.get("/api/documents/search", params={"q": "albatross"})).json() == {"results": []}
        assert (await http.get("/api/documents/search", params={"q": "!!!"})).status_code == 400


async def test_other_users_get_404_and_forbidden(server: LiveServer) -> None:
    """Another user's document is 404 over REST and forbidden as a topic; the owner may follow it."""
    _, owner = await server.user_session()
    _, other = await server.user_session()
    doc_id = (await _upload(server, owner, ("a.txt", b"hello world"))).json()["documents"][0]["id"]
    async with server.client(cookies={"connect.sid": other}) as http:
        for path in (f"/api/documents/{doc_id}", f"/api/documents/{doc_id}/file"):
            assert (await http.get(path)).status_code == 404
        assert (await http.delete(f"/api/documents/{doc_id}")).status_code == 404
    async with server.connect(other) as ws:
        await recv_type(ws, "hello")
        await send_json(ws, {"type": "subscribe", "id": "s", "payload": {"topic": f"document:{doc_id}"}})
        error = await recv_type(ws, "error")
        assert (error["id"], error["payload"]["code"]) == ("s", "forbidden")
    async with server.connect(owner) as ws:
        await recv_type(ws, "hello")
        await send_json(ws, {"type": "subscribe", "id": "s", "payload": {"topic": f"document:{doc_id}"}})
        assert (await recv_type(ws, "ack"))["payload"]["stream"] == f"topic:document:{doc_id}"


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("bad.exe", b"MZ\x90\x00" + bytes(200), 415),
        ("fake.pdf", b"PK\x03\x04 not a pdf at all", 415),
    ],
)
async def test_unsupported_uploads_are_refused(
    server: LiveServer, name: str, data: bytes, status: int
) -> None:
    """Unsupported or mismatching content is refused with 415 and nothing is stored."""
    _, cookie = await server.user_session()
    response = await _upload(server, cookie, (name, data), ("fine.txt", b"fine"))
    assert response.status_code == status
    assert name in response.json()["detail"]
    async with server.client(cookies={"connect.sid": cookie}) as http:
        assert (await http.get("/api/documents")).json() == {"documents": []}


async def test_bad_documents_fail_alone_with_a_reason(server: LiveServer) -> None:
    """An encrypted and a corrupt PDF fail with readable reasons; a good file beside them completes."""
    _, cookie = await server.user_session()
    good = sample_files.pdf(["A good page about kites."])
    corrupt = good[: len(good) // 2]
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        docs = (
            await _upload(
                server,
                cookie,
                ("locked.pdf", sample_files.encrypted_pdf()),
                ("broken.pdf", corrupt),
                ("ok.pdf", good),
            )
        ).json()["documents"]
        events = await _all_statuses(ws, [d["id"] for d in docs])
        finals = {d["filename"]: events[d["id"]][-1] for d in docs}
    assert finals["ok.pdf"]["status"] == "completed"
    assert finals["locked.pdf"]["status"] == "failed"
    assert "password" in finals["locked.pdf"]["error"]
    assert finals["broken.pdf"]["status"] == "failed"
    assert finals["broken.pdf"]["error"]


async def test_delete_cancels_and_announces(server: LiveServer) -> None:
    """Deleting a document removes it, publishes document_deleted, and its file is gone."""
    _, cookie = await server.user_session()
    data = sample_files.docx("Plan", [f"Paragraph {n} about gardens." for n in range(50)])
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        doc_id = (await _upload(server, cookie, ("plan.docx", data))).json()["documents"][0]["id"]
        async with server.client(cookies={"connect.sid": cookie}) as http:
            assert (await http.delete(f"/api/documents/{doc_id}")).status_code == 204
            assert (await http.get(f"/api/documents/{doc_id}")).status_code == 404
        deleted = await recv_type(ws, "document_deleted")
    assert deleted["payload"] == {"documentId": doc_id}


async def test_too_large_upload_is_413(tmp_path: Any) -> None:
    """A file over [documents] max_upload_size is refused with 413."""
    from tests.support import make_config

    live = LiveServer(make_config(tmp_path, documents={"max_upload_size": 1000}))
    await live.start()
    try:
        _, cookie = await live.user_session()
        response = await _upload(live, cookie, ("big.txt", b"a" * 2000))
        assert response.status_code == 413
        assert response.json()["code"] == "too_large"
    finally:
        await live.stop()


async def test_download_returns_the_original_bytes(server: LiveServer) -> None:
    """GET /file returns exactly the uploaded bytes, as an attachment named after the file."""
    _, cookie = await server.user_session()
    data = "Grüße aus Köln\n".encode("latin-1")
    doc_id = (await _upload(server, cookie, ("grüße.txt", data))).json()["documents"][0]["id"]
    async with server.client(cookies={"connect.sid": cookie}) as http:
        response = await http.get(f"/api/documents/{doc_id}/file")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-disposition"] == "attachment; filename*=utf-8''gr%C3%BC%C3%9Fe.txt"
