"""api/chat.py over the real server: stages, streaming, stop, resume, restart, authorization."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.services.chat.fake_openai import FakeOpenAI
from tests.support import MS, LiveServer, StartServer, make_config, recv_json, recv_type, send_json

POLICY = (
    b"# Refunds\n\nRefunds are processed within five business days of the return.\n\n"
    b"# Shipping\n\nParcels ship from the harbour warehouse every Tuesday.\n"
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    yield server
    await server.close()


async def _openai_server(start_server: StartServer, fake: FakeOpenAI, **llm: Any) -> LiveServer:
    return await start_server(llm={"provider": "openai", "openai_url": fake.url, "openai_model": "m", **llm})


async def _upload(server: LiveServer, cookie: str, name: str, data: bytes) -> str:
    """Upload a document and wait until it is indexed; its id."""
    async with server.client(cookies={"connect.sid": cookie}) as http:
        doc_id: str = (await http.post("/api/documents", files=[("files", (name, data))])).json()[
            "documents"
        ][0]["id"]
        async with asyncio.timeout(20_000 * MS):
            while (await http.get(f"/api/documents/{doc_id}")).json()["status"] != "completed":
                await asyncio.sleep(50 * MS)
    return doc_id


async def _conversation(server: LiveServer, cookie: str) -> str:
    async with server.client(cookies={"connect.sid": cookie}) as http:
        response = await http.post("/api/conversations", json={})
    assert response.status_code == 201
    conversation_id: str = response.json()["conversation"]["id"]
    return conversation_id


async def _ask(server: LiveServer, cookie: str, conversation_id: str, question: str) -> dict[str, Any]:
    async with server.client(cookies={"connect.sid": cookie}) as http:
        response = await http.post(
            f"/api/conversations/{conversation_id}/messages", json={"content": question}
        )
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()["answer"]
    return answer


async def _follow(ws: Any, conversation_id: str) -> None:
    await send_json(
        ws, {"type": "subscribe", "id": "f", "payload": {"topic": f"conversation:{conversation_id}"}}
    )
    assert (await recv_type(ws, "ack"))["id"] == "f"


async def _until_end(ws: Any, timeout: float = 20_000 * MS) -> list[dict[str, Any]]:
    """Every conversation event up to and including message_end."""
    events = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv_json(ws, timeout)
            if frame["type"] in ("rag_progress", "message_chunk", "message_end"):
                events.append(frame)
                if frame["type"] == "message_end":
                    return events


async def _read(server: LiveServer, cookie: str, conversation_id: str) -> dict[str, Any]:
    async with server.client(cookies={"connect.sid": cookie}) as http:
        response = await http.get(f"/api/conversations/{conversation_id}")
    assert response.status_code == 200
    detail: dict[str, Any] = response.json()
    return detail


def _joined(chunks: list[dict[str, Any]], have: str = "") -> str:
    """Merge chunks into ``have`` by offset, dropping what it already holds; a gap fails."""
    text = have
    for chunk in chunks:
        offset, delta = chunk["payload"]["offset"], chunk["payload"]["delta"]
        assert offset <= len(text), f"gap: chunk at {offset}, text has {len(text)}"
        text = text[:offset] + delta if offset + len(delta) > len(text) else text
    return text


async def test_stages_in_order_and_chunks_make_the_stored_answer(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """retrieving -> ranking -> generating -> done, each with elapsed time; the chunks, joined by
    offset, are the stored answer; citations point at the user's own passage."""
    server = await _openai_server(start_server, fake)
    _, cookie = await server.user_session()
    doc_id = await _upload(server, cookie, "policy.md", POLICY)
    conversation_id = await _conversation(server, cookie)
    fake.tokens = ["Refunds ", "take ", "five ", "business ", "days ", "[1]", " [9]."]
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await _follow(ws, conversation_id)
        answer = await _ask(server, cookie, conversation_id, "How long do refunds take?")
        assert (answer["status"], answer["content"], answer["role"]) == ("streaming", "", "assistant")
        events = await _until_end(ws)
    progress = [e["payload"] for e in events if e["type"] == "rag_progress"]
    assert [p["stage"] for p in progress] == ["retrieving", "ranking", "generating", "done"]
    elapsed = [p["elapsedMs"] for p in progress]
    assert elapsed == sorted(elapsed)
    sources = progress[2]["sources"]
    assert sources[0]["documentId"] == doc_id and sources[0]["section"] == "Refunds"
    chunks = [e for e in events if e["type"] == "message_chunk"]
    assert all(c["payload"]["messageId"] == answer["id"] for c in chunks)
    text = _joined(chunks)
    assert text == "Refunds take five business days [1] [9]."
    end = events[-1]["payload"]
    assert (end["status"], end["length"], end["usage"]) == (
        "complete",
        len(text),
        {"promptTokens": 42, "completionTokens": 7},
    )
    # [9] names no retrieved passage: dropped.
    assert [(c["n"], c["documentId"]) for c in end["citations"]] == [(1, doc_id)]
    citation = end["citations"][0]
    assert "five business days" in POLICY.decode()[citation["start"] : citation["end"]]
    stored = (await _read(server, cookie, conversation_id))["messages"]
    assert [(m["role"], m["status"]) for m in stored] == [("user", "complete"), ("assistant", "complete")]
    assert stored[1]["content"] == text and stored[1]["citations"] == end["citations"]
    # The prompt quoted the passage of the user's own document.
    assert (
        "Refunds are processed within five business days"
        in fake.requests[0]["body"]["messages"][1]["content"]
    )


async def test_earlier_turns_go_to_the_model_with_the_new_question(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """The third question's request carries the earlier questions and their complete or
    cancelled answers (markers removed) before the sources and the new question, within
    [llm] history_chars, newest kept first."""
    server = await _openai_server(start_server, fake, history_chars=80)
    _, cookie = await server.user_session()
    await _upload(server, cookie, "policy.md", POLICY)
    conversation_id = await _conversation(server, cookie)
    answers = [
        ["Refunds ", "take ", "five ", "days ", "[1]."],
        ["Parcels ", "ship ", "on ", "Tuesday."],
        ["Ok."],
    ]
    questions = ["How long do refunds take, in business days exactly?", "And shipping?", "Which warehouse?"]
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await _follow(ws, conversation_id)
        for tokens, question in zip(answers, questions, strict=True):
            fake.tokens = tokens
            await _ask(server, cookie, conversation_id, question)
            assert (await _until_end(ws))[-1]["payload"]["status"] == "complete"
    first, second, third = (r["body"]["messages"] for r in fake.requests)
    assert [m["role"] for m in first] == ["system", "user"]
    assert second[1:3] == [
        {"role": "user", "content": questions[0]},
        {"role": "assistant", "content": "Refunds take five days."},
    ]
    # 80 characters hold the second pair (13 + 24) but not the first as well (51 + 23 more).
    assert third[1:3] == [
        {"role": "user", "content": "And shipping?"},
        {"role": "assistant", "content": "Parcels ship on Tuesday."},
    ]
    assert [m["role"] for m in third] == ["system", "user", "assistant", "user"]
    assert third[3]["content"].startswith("Sources:\n\n[1]")
    assert third[3]["content"].endswith("Question: Which warehouse?")


async def test_the_extractive_generator_answers_with_exact_citations(server: LiveServer) -> None:
    """With no model, the answer quotes the best sentence, labelled, and cites its passage."""
    _, cookie = await server.user_session()
    doc_id = await _upload(server, cookie, "policy.md", POLICY)
    conversation_id = await _conversation(server, cookie)
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await _follow(ws, conversation_id)
        await _ask(server, cookie, conversation_id, "When do parcels ship?")
        events = await _until_end(ws)
    text = _joined([e for e in events if e["type"] == "message_chunk"])
    assert text.startswith("Extractive answer")
    assert "- Parcels ship from the harbour warehouse every Tuesday. [1]" in text
    (citation,) = events[-1]["payload"]["citations"]
    assert citation["documentId"] == doc_id and citation["section"] == "Shipping"


async def test_stop_closes_the_upstream_and_keeps_the_partial_answer(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """Stop ends the answer as cancelled within a second, the model's connection is closed, and
    the text so far is kept; a second Stop is a conflict."""
    server = await _openai_server(start_server, fake)
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    fake.tokens, fake.delay = [f"w{n} " for n in range(400)], 40 * MS
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await _follow(ws, conversation_id)
        answer = await _ask(server, cookie, conversation_id, "Tell me everything")
        while fake.tokens_sent < 5:
            await asyncio.sleep(10 * MS)
        async with server.client(cookies={"connect.sid": cookie}) as http:
            path = f"/api/conversations/{conversation_id}/messages/{answer['id']}/cancel"
            assert (await http.post(path)).status_code == 202
            await asyncio.wait_for(fake.client_closed.wait(), 1000 * MS)
            events = await _until_end(ws)
            assert (await http.post(path)).status_code == 409
    sent = fake.tokens_sent
    assert sent < 100
    assert events[-1]["payload"]["status"] == "cancelled"
    assert [e["payload"]["stage"] for e in events if e["type"] == "rag_progress"][-1] == "cancelled"
    stored = (await _read(server, cookie, conversation_id))["messages"][1]
    assert stored["status"] == "cancelled"
    assert stored["content"] == _joined([e for e in events if e["type"] == "message_chunk"])
    assert stored["content"].startswith("w0 w1 w2 w3 w4")


async def test_a_late_reader_gets_the_text_so_far_and_drops_repeats_by_offset(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """A page that opens mid-answer reads the text so far over REST, then follows; merged by
    offset, nothing is repeated or missing, and a second socket sees the same answer."""
    server = await _openai_server(start_server, fake)
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    fake.tokens, fake.delay = [f"part{n} " for n in range(40)], 20 * MS
    async with server.connect(cookie) as first:
        await recv_type(first, "hello")
        await _follow(first, conversation_id)
        await _ask(server, cookie, conversation_id, "Go on")
        while fake.tokens_sent < 10:
            await asyncio.sleep(10 * MS)
        async with server.connect(cookie) as late:
            await recv_type(late, "hello")
            # Subscribe first, then read: a chunk sent between the two is dropped by offset.
            await _follow(late, conversation_id)
            snapshot = (await _read(server, cookie, conversation_id))["messages"][1]
            assert snapshot["status"] == "streaming" and snapshot["length"] == len(snapshot["content"])
            assert snapshot["content"].startswith("part0 part1 part2")
            late_events = await _until_end(late)
        first_events = await _until_end(first)
    whole = "".join(f"part{n} " for n in range(40))
    assert _joined([e for e in first_events if e["type"] == "message_chunk"]) == whole
    assert _joined([e for e in late_events if e["type"] == "message_chunk"], snapshot["content"]) == whole


async def test_a_restart_mid_answer_ends_it_interrupted(tmp_path: Any, fake: FakeOpenAI) -> None:
    """Stopping the server mid-answer leaves the message interrupted with its text so far, never
    streaming; after a restart the conversation can ask again."""
    config = make_config(tmp_path, llm={"provider": "openai", "openai_url": fake.url})
    server = LiveServer(config)
    await server.start()
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    fake.tokens, fake.delay = [f"x{n} " for n in range(400)], 30 * MS
    await _ask(server, cookie, conversation_id, "Slowly please")
    while fake.tokens_sent < 3:
        await asyncio.sleep(10 * MS)
    await server.stop(keep_database=True)
    assert fake.client_closed.is_set()
    again = LiveServer(config)
    await again.start()
    try:
        cookie = await again.login((await _username(again, cookie)) or "")
        detail = await _read(again, cookie, conversation_id)
        answer = detail["messages"][1]
        assert answer["status"] == "interrupted" and answer["content"].startswith("x0 x1 x2")
        assert detail["conversation"]["streaming"] is False
        fake.tokens, fake.delay = ["ok"], 0
        await _ask(again, cookie, conversation_id, "Again")
    finally:
        await again.stop()


async def _username(server: LiveServer, cookie: str) -> str | None:
    async with server.client(cookies={"connect.sid": cookie}) as http:
        response = await http.get("/api/auth/me")
    name: str | None = response.json()["user"]["username"] if response.status_code == 200 else None
    return name


async def test_another_user_is_refused(server: LiveServer) -> None:
    """Someone else's conversation is 404 over REST and forbidden as a topic."""
    _, owner = await server.user_session()
    _, other = await server.user_session()
    conversation_id = await _conversation(server, owner)
    answer = await _ask(server, owner, conversation_id, "What is in my files?")
    async with server.client(cookies={"connect.sid": other}) as http:
        base = f"/api/conversations/{conversation_id}"
        assert (await http.get(base)).status_code == 404
        assert (await http.post(f"{base}/messages", json={"content": "hi"})).status_code == 404
        assert (await http.post(f"{base}/messages/{answer['id']}/cancel")).status_code == 404
        assert (await http.delete(base)).status_code == 404
        assert (await http.get("/api/conversations")).json() == {
            "conversations": [],
            "generator": "extractive",
        }
    async with server.connect(other) as ws:
        await recv_type(ws, "hello")
        await send_json(
            ws, {"type": "subscribe", "id": "s", "payload": {"topic": f"conversation:{conversation_id}"}}
        )
        error = await recv_type(ws, "error")
        assert (error["id"], error["payload"]["code"]) == ("s", "forbidden")


async def test_conversations_are_listed_renamed_and_deleted_live(server: LiveServer) -> None:
    """Create, ask, rename and delete each reach every socket of the user as conversation_update."""
    _, cookie = await server.user_session()
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        conversation_id = await _conversation(server, cookie)
        created = (await recv_type(ws, "conversation_update"))["payload"]
        assert (created["conversationId"], created["title"]) == (conversation_id, "New conversation")
        await _ask(server, cookie, conversation_id, "Where   is the harbour?")
        asked = (await recv_type(ws, "conversation_update"))["payload"]
        assert (asked["title"], asked["streaming"]) == ("Where is the harbour?", True)
        ended = (await recv_type(ws, "conversation_update"))["payload"]
        assert ended["streaming"] is False
        async with server.client(cookies={"connect.sid": cookie}) as http:
            renamed = await http.patch(f"/api/conversations/{conversation_id}", json={"title": "Harbour"})
            assert renamed.json()["conversation"]["title"] == "Harbour"
            assert (await recv_type(ws, "conversation_update"))["payload"]["title"] == "Harbour"
            assert (
                await http.post("/api/conversations/" + conversation_id + "/messages", json={"content": "?!"})
            ).status_code == 400
            assert (await http.delete(f"/api/conversations/{conversation_id}")).status_code == 204
            assert (await recv_type(ws, "conversation_update"))["payload"]["deleted"] is True
            assert (await http.get("/api/conversations")).json()["conversations"] == []


async def test_after_a_dropped_connection_resume_and_offsets_make_the_whole_answer(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """A socket that drops mid-answer reconnects and resumes the topic from an earlier position:
    the replay repeats chunks it had, which offsets drop, and nothing is missing."""
    server = await _openai_server(start_server, fake)
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    fake.tokens, fake.delay = [f"r{n} " for n in range(60)], 20 * MS
    topic = f"conversation:{conversation_id}"
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await send_json(ws, {"type": "subscribe", "id": "f", "payload": {"topic": topic}})
        epoch = (await recv_type(ws, "ack"))["payload"]["epoch"]
        await _ask(server, cookie, conversation_id, "Resume me")
        chunks: list[dict[str, Any]] = []
        while len(chunks) < 3:
            chunks.append(await recv_type(ws, "message_chunk"))
    text, last_seq = _joined(chunks), chunks[-1]["seq"]
    while fake.tokens_sent < 25:
        await asyncio.sleep(10 * MS)
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await _follow(ws, conversation_id)
        # One position earlier than what was processed: the replay repeats a chunk.
        position = {"epoch": epoch, "seq": last_seq - 1}
        await send_json(
            ws, {"type": "resume", "id": "r", "payload": {"streams": {f"topic:{topic}": position}}}
        )
        events = await _until_end(ws)
    # Chunks published after the subscribe may arrive before the replay (the protocol allows
    # it: "replay may repeat events the socket already received live"); a client applies a
    # stream's events in seq order, buffering a jump, as done here.
    by_seq = {e["seq"]: e for e in events if e["type"] == "message_chunk"}
    replayed = [by_seq[seq] for seq in sorted(by_seq)]
    assert replayed[0]["seq"] == last_seq and replayed[0]["payload"]["offset"] < len(text)
    whole = "".join(f"r{n} " for n in range(60))
    assert _joined(replayed, text) == whole
    assert (await _read(server, cookie, conversation_id))["messages"][1]["content"] == whole
