"""services/documents/search.py and lexical.py: questions find answers, and only the owner's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from productdemo.errors import BadRequest
from productdemo.services.documents.lexical import query_terms
from tests.support import MS, LiveServer

COPYING = (
    "# Copying\n\nUse cp to copy files and directories. The -r option copies directories recursively.\n\n"
    "# Moving\n\nUse mv to rename a file or move it to another directory.\n"
)


async def _ready(server: LiveServer, cookie: str, name: str, data: bytes) -> str:
    """Upload ``data`` and wait until it is processed; returns the document id."""
    async with server.client(cookies={"connect.sid": cookie}) as http:
        doc_id: str = (await http.post("/api/documents", files=[("files", (name, data))])).json()[
            "documents"
        ][0]["id"]
        async with asyncio.timeout(30_000 * MS):
            while (await http.get(f"/api/documents/{doc_id}")).json()["status"] != "completed":
                await asyncio.sleep(50 * MS)
    return doc_id


def test_query_terms_drop_stop_words_unless_nothing_else_is_left() -> None:
    """Stop words are dropped and words deduplicated; a query of stop words only keeps them."""
    assert query_terms("How do I copy a file? Copy it!") == ["copy", "file"]
    assert query_terms("who are you") == ["who", "are", "you"]
    with pytest.raises(BadRequest):
        query_terms("?!")
    with pytest.raises(BadRequest):
        query_terms("x" * 201)


async def test_a_question_finds_the_chunk_that_answers_it(server: LiveServer) -> None:
    """A question whose words are not all in one chunk still ranks the answering chunk first.

    Lexical ranking on its own: the tests' embedder hashes words (it has no sense of
    meaning), so hybrid ranking here would weigh noise; hybrid with the real model is
    measured by ``services/retrieval/test_quality.py``.
    """
    _, cookie = await server.user_session()
    await _ready(server, cookie, "shell.md", COPYING.encode())
    async with server.client(cookies={"connect.sid": cookie}) as http:
        response = await http.get(
            "/api/documents/search", params={"q": "How do I copy a directory?", "mode": "lexical"}
        )
    hits: list[dict[str, Any]] = response.json()["results"]
    assert hits and hits[0]["section"] == "Copying"
    marked = {hits[0]["snippet"][s:e].lower() for s, e in hits[0]["highlights"]}
    assert {"copy", "directories"} <= marked


async def test_passages_are_whole_chunks_of_the_owner_only(server: LiveServer) -> None:
    """passages() returns whole chunks with their offsets, never another user's chunks."""
    alice, alice_cookie = await server.user_session()
    bob, bob_cookie = await server.user_session()
    await _ready(server, alice_cookie, "shell.md", COPYING.encode())
    await _ready(server, bob_cookie, "other.md", b"# Copying\n\nBob copies his own files with rsync.\n")
    search = server.services.search
    passages = await search.passages(alice, "how to rename a file", limit=8)
    assert [p.section for p in passages][0] == "Moving"
    assert {p.filename for p in passages} == {"shell.md"}
    top = passages[0]
    assert "Use mv to rename" in top.text and top.end - top.start == len(top.text)
    assert {p.filename for p in await search.passages(bob, "copy files", limit=8)} == {"other.md"}
