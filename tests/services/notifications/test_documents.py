"""Documents' outcomes become stored notifications for their owner (ready, or failed with why)."""

from __future__ import annotations

from typing import Any

from tests import sample_files
from tests.support import MS, LiveServer, recv_type


async def _notifications_after_upload(
    server: LiveServer, filename: str, data: bytes
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """Upload one file with a socket open; the document id, its stored notifications, and the live one."""
    _, cookie = await server.user_session()
    async with server.connect(cookie) as ws, server.client(cookies={"connect.sid": cookie}) as http:
        await recv_type(ws, "hello")
        response = await http.post("/api/documents", files=[("files", (filename, data))])
        assert response.status_code == 201, response.text
        (doc,) = response.json()["documents"]
        live = (await recv_type(ws, "notification", 20_000 * MS))["payload"]
        listed = (await http.get("/api/notifications")).json()
    return doc["id"], listed["notifications"], live


async def test_a_processed_document_leaves_a_ready_notification(server: LiveServer) -> None:
    """When a document completes, its owner gets a stored, unread "ready" notification linking to it."""
    doc_id, stored, live = await _notifications_after_upload(
        server, "notes.txt", b"Lighthouses and harbours."
    )
    assert [(n["kind"], n["message"], n["read"], n["link"]) for n in stored] == [
        ("document_ready", "notes.txt is ready", False, f"/documents?document={doc_id}")
    ]
    assert live["id"] == stored[0]["id"] and live["kind"] == "document_ready"


async def test_a_failed_document_leaves_a_warning_with_the_reason(server: LiveServer) -> None:
    """An encrypted PDF fails; its owner's notification says so, as a warning, with the reason."""
    _, stored, live = await _notifications_after_upload(server, "locked.pdf", sample_files.encrypted_pdf())
    (note,) = stored
    assert (note["kind"], note["level"]) == ("document_failed", "warning")
    assert note["message"].startswith("locked.pdf could not be processed: ")
    assert live["message"] == note["message"]
