"""services/chat/startup.py on the real server: at most ``max_starting`` answers start at once,
the others say they are queued, and a queued answer can be stopped or interrupted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.test_chat import _ask, _conversation, _follow, _read, _username
from tests.services.chat.fake_openai import FakeOpenAI
from tests.support import MS, LiveServer, StartServer, make_config, recv_json, recv_type


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    # The model never sends its first token: every answer that starts stays in start-up.
    server.tokens, server.delay = ["never "], 3600
    yield server
    await server.close()


async def _progress(ws: Any, quiet: float) -> dict[str, list[str]]:
    """The stages each answer reached until the socket has been quiet for ``quiet`` seconds."""
    stages: dict[str, list[str]] = {}
    while True:
        try:
            frame = await recv_json(ws, quiet)
        except TimeoutError:
            return stages
        if frame["type"] == "rag_progress":
            stages.setdefault(frame["payload"]["messageId"], []).append(frame["payload"]["stage"])


async def test_at_most_max_starting_answers_start_and_the_others_wait_queued(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """With max_starting = 2 and five questions, two answers start (two model requests), three
    say they are queued; stopping a starting answer lets the first queued one start, and a
    queued answer stopped ends cancelled without ever starting."""
    server = await start_server(llm={"provider": "openai", "openai_url": fake.url, "max_starting": 2})
    _, cookie = await server.user_session()
    conversations = [await _conversation(server, cookie) for _ in range(5)]
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        for conversation_id in conversations:
            await _follow(ws, conversation_id)
        answers = await asyncio.gather(*(_ask(server, cookie, c, "Anything?") for c in conversations))
        stages = await _progress(ws, 500 * MS)
        started = [a["id"] for a in answers if stages[a["id"]] == ["retrieving", "ranking", "generating"]]
        waiting = [a["id"] for a in answers if stages[a["id"]] == ["queued"]]
        assert (len(started), len(waiting), len(fake.requests)) == (2, 3, 2), stages

        async with server.client(cookies={"connect.sid": cookie}) as http:
            by_id = {a["id"]: c for a, c in zip(answers, conversations, strict=True)}
            cancel = "/api/conversations/{}/messages/{}/cancel"
            assert (await http.post(cancel.format(by_id[started[0]], started[0]))).status_code == 202
            stages = await _progress(ws, 500 * MS)
            # Its turn went to a queued answer (which one is the semaphore's order).
            assert stages.pop(started[0]) == ["cancelled"]
            assert list(stages.values()) == [["retrieving", "ranking", "generating"]], stages
            assert len(fake.requests) == 3
            moved = next(iter(stages))
            still = next(m for m in waiting if m != moved)
            assert (await http.post(cancel.format(by_id[still], still))).status_code == 202
            ends = await _progress(ws, 500 * MS)
        assert ends == {still: ["cancelled"]}
        assert len(fake.requests) == 3
    detail = await _read(server, cookie, by_id[still])
    assert (detail["messages"][1]["status"], detail["messages"][1]["content"]) == ("cancelled", "")


async def test_a_queued_answer_ends_interrupted_on_restart(tmp_path: Any, fake: FakeOpenAI) -> None:
    """Stopping the server while one answer starts and another waits for its turn leaves both
    interrupted, never streaming."""
    config = make_config(tmp_path, llm={"provider": "openai", "openai_url": fake.url, "max_starting": 1})
    server = LiveServer(config)
    await server.start()
    _, cookie = await server.user_session()
    conversations = [await _conversation(server, cookie) for _ in range(2)]
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        for conversation_id in conversations:
            await _follow(ws, conversation_id)
        for conversation_id in conversations:
            await _ask(server, cookie, conversation_id, "Anything?")
        stages = await _progress(ws, 300 * MS)
    assert sorted(stages.values()) == [["queued"], ["retrieving", "ranking", "generating"]]
    await server.stop(keep_database=True)
    again = LiveServer(config)
    await again.start()
    try:
        cookie = await again.login((await _username(again, cookie)) or "")
        for conversation_id in conversations:
            detail = await _read(again, cookie, conversation_id)
            assert detail["messages"][1]["status"] == "interrupted"
            assert detail["conversation"]["streaming"] is False
    finally:
        await again.stop()
