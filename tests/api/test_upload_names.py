"""Uploaded file names: '.' and '..' are refused, long names keep their extension, times carry UTC."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from tests.support import LiveServer


async def _upload(
    server: LiveServer, cookie: str, name: str, data: bytes = b"some words here\n"
) -> httpx.Response:
    async with server.client(cookies={"connect.sid": cookie}) as http:
        return await http.post("/api/documents", files=[("files", (name, data, "text/plain"))])


@pytest.mark.parametrize("name", ["..", ".", "a/..", "x\\..", "..."])
async def test_dot_names_are_refused(server: LiveServer, name: str) -> None:
    """A file called '.', '..' (also as the last part of a path) or only dots is refused with 400."""
    _, cookie = await server.user_session()
    response = await _upload(server, cookie, name)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"


async def test_long_name_is_shortened_keeping_its_extension(server: LiveServer) -> None:
    """A 2,000-character name is cut to 255 characters that still end in its extension."""
    _, cookie = await server.user_session()
    response = await _upload(server, cookie, "n" * 1996 + ".txt")
    assert response.status_code == 201, response.text
    (doc,) = response.json()["documents"]
    assert len(doc["filename"]) == 255 and doc["filename"].endswith("nn.txt")


async def test_every_timestamp_has_an_explicit_utc_offset(server: LiveServer) -> None:
    """Upload, list and fetch all answer timestamps with an offset of zero, on any database."""
    _, cookie = await server.user_session()
    uploaded = (await _upload(server, cookie, "t.txt")).json()["documents"][0]
    async with server.client(cookies={"connect.sid": cookie}) as http:
        listed = (await http.get("/api/documents")).json()["documents"][0]
        fetched = (await http.get(f"/api/documents/{uploaded['id']}")).json()
    for doc in (uploaded, listed, fetched):
        for key in ("createdAt", "updatedAt"):
            assert datetime.fromisoformat(doc[key]).utcoffset() == timedelta(0), doc[key]
