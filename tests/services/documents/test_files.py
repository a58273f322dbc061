"""services/documents/files.py: originals shared by content, never deleted while referenced."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from productdemo.storage.models import Blob
from tests import sample_files
from tests.support import MS, LiveServer, StartServer


async def upload(live: LiveServer, cookie: str, data: bytes) -> str:
    async with live.client(cookies={"connect.sid": cookie}) as http:
        response = await http.post("/api/documents", files=[("files", ("same.pdf", data))])
    assert response.status_code == 201, response.text
    doc_id: str = response.json()["documents"][0]["id"]
    return doc_id


async def test_deleting_a_document_keeps_the_original_of_a_concurrent_upload_of_the_same_content(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob uploads the content Alice has; while his upload has found the stored original but not
    committed his document, Alice deletes hers. Bob's original survives, and his document is
    processed. (Before: the delete saw no other document and removed the shared original.)"""
    live = await start_server()
    data = sample_files.pdf(["Shared content, uploaded twice."])
    _, alice = await live.user_session()
    _, bob = await live.user_session()
    alices = await upload(live, alice, data)

    files = live.services.documents._files
    store = files.store
    reached, release = asyncio.Event(), asyncio.Event()

    async def gated_store(db: AsyncSession, content: bytes) -> str:
        digest: str = await store(db, content)
        reached.set()
        await release.wait()  # the race window: blob found or stored, document not committed
        return digest

    monkeypatch.setattr(files, "store", gated_store)
    bobs_upload = asyncio.create_task(upload(live, bob, data))
    await asyncio.wait_for(reached.wait(), 10_000 * MS)
    monkeypatch.setattr(files, "store", store)
    async with live.client(cookies={"connect.sid": alice}) as http:
        alices_delete = asyncio.create_task(http.delete(f"/api/documents/{alices}"))
        # PostgreSQL: the delete commits now. SQLite: it waits for the upload's write lock.
        await asyncio.wait({alices_delete}, timeout=1000 * MS)
        release.set()
        bobs = await bobs_upload
        assert (await alices_delete).status_code == 204
    async with live.client(cookies={"connect.sid": bob}) as http:
        original = await http.get(f"/api/documents/{bobs}/file")
        assert (original.status_code, original.content) == (200, data)
        async with asyncio.timeout(30_000 * MS):
            while (status := (await http.get(f"/api/documents/{bobs}")).json()["status"]) in (
                "queued",
                "processing",
            ):
                await asyncio.sleep(50 * MS)
        assert status == "completed"


async def test_the_last_delete_removes_the_original(start_server: StartServer) -> None:
    """Originals are shared while referenced and removed with the last document using them."""
    live = await start_server()
    data = sample_files.pdf(["Uploaded by two people."])
    digest = hashlib.sha256(data).hexdigest()
    cookies = [(await live.user_session())[1] for _ in range(2)]
    docs = [await upload(live, cookie, data) for cookie in cookies]

    async def stored() -> bool:
        async with live.services.db() as db:
            return await db.scalar(select(Blob.sha256).where(Blob.sha256 == digest)) is not None

    for cookie, doc_id, kept in zip(cookies, docs, (True, False), strict=True):
        async with live.client(cookies={"connect.sid": cookie}) as http:
            assert (await http.delete(f"/api/documents/{doc_id}")).status_code == 204
        assert await stored() is kept
