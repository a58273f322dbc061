"""services/chat/leases.py on the real server: abandoned answers end, a lost claim stops the work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from productdemo.storage.models import Conversation, Message
from tests.api.test_chat import _ask, _conversation, _follow, _until_end
from tests.services.chat.fake_openai import FakeOpenAI
from tests.support import MS, StartServer, recv_type


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    yield server
    await server.close()


async def test_an_answer_abandoned_by_a_dead_instance_ends_interrupted(start_server: StartServer) -> None:
    """A streaming message whose owner's lease ran out is ended as interrupted by the sweep, live."""
    server = await start_server(llm={"lease_seconds": 300 * MS})
    user_id, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    now = datetime.now(UTC)
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await _follow(ws, conversation_id)
        async with server.services.db() as db:
            db.add(
                Message(
                    id="m_ghost",
                    conversation_id=conversation_id,
                    seq=1,
                    role="assistant",
                    content="half",
                    status="streaming",
                    citations="[]",
                    cancel_requested=False,
                    claimed_by="ghost:1",
                    lease_until=now + timedelta(seconds=200 * MS),
                    created_at=now,
                    updated_at=now,
                )
            )
            await db.commit()
        events = await _until_end(ws, 5000 * MS)
    end = events[-1]["payload"]
    assert (end["messageId"], end["status"], end["length"]) == ("m_ghost", "interrupted", 4)
    async with server.services.db() as db:
        row = await db.get(Message, "m_ghost")
        owner = await db.scalar(select(Conversation.owner_id).where(Conversation.id == conversation_id))
    assert row is not None and (row.status, row.claimed_by, row.content) == ("interrupted", None, "half")
    assert owner == user_id


async def test_a_lost_claim_stops_the_work_and_never_overwrites(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """When another instance has ended the answer, the old owner stops generating (closing the
    upstream) and leaves the row as the other instance wrote it."""
    server = await start_server(llm={"provider": "openai", "openai_url": fake.url, "lease_seconds": 600 * MS})
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    fake.tokens, fake.delay = [f"t{n} " for n in range(500)], 20 * MS
    answer = await _ask(server, cookie, conversation_id, "Keep going")
    while fake.tokens_sent < 3:
        await asyncio.sleep(10 * MS)
    async with server.services.db() as db:
        await db.execute(
            update(Message)
            .where(Message.id == answer["id"])
            .values(status="interrupted", content="taken over", claimed_by=None, lease_until=None)
        )
        await db.commit()
    await asyncio.wait_for(fake.client_closed.wait(), 2000 * MS)
    async with asyncio.timeout(2000 * MS):
        while server.services.chat.answers.get(answer["id"]) is not None:
            await asyncio.sleep(10 * MS)
    async with server.services.db() as db:
        row = await db.get(Message, answer["id"])
    assert row is not None and (row.status, row.content) == ("interrupted", "taken over")


async def test_renewals_save_the_text_so_far(start_server: StartServer, fake: FakeOpenAI) -> None:
    """While an answer streams, each lease renewal saves its text so far (never per token), so
    another instance, or a crash, has it."""
    server = await start_server(llm={"provider": "openai", "openai_url": fake.url, "lease_seconds": 300 * MS})
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    fake.tokens, fake.delay = [f"s{n} " for n in range(200)], 20 * MS
    answer = await _ask(server, cookie, conversation_id, "Save as you go")
    saved = ""
    async with asyncio.timeout(5000 * MS):
        while len(saved) < len("s0 s1 s2 s3 "):
            await asyncio.sleep(50 * MS)
            async with server.services.db() as db:
                row = await db.get(Message, answer["id"])
                assert row is not None and row.status == "streaming"
                saved = row.content
    assert saved.startswith("s0 s1 s2 s3 ")
    live = server.services.chat.answers.get(answer["id"])
    assert live is not None and live.text.startswith(saved)
    async with server.client(cookies={"connect.sid": cookie}) as http:
        await http.post(f"/api/conversations/{conversation_id}/messages/{answer['id']}/cancel")


async def test_a_stop_made_on_another_instance_reaches_the_owner_at_its_next_renewal(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """Stop through another instance only marks the row; the owner reads the mark when it renews
    its lease, stops the model and ends the answer as cancelled."""
    server = await start_server(llm={"provider": "openai", "openai_url": fake.url, "lease_seconds": 600 * MS})
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    fake.tokens, fake.delay = [f"c{n} " for n in range(500)], 20 * MS
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await _follow(ws, conversation_id)
        answer = await _ask(server, cookie, conversation_id, "Stop me from afar")
        while fake.tokens_sent < 3:
            await asyncio.sleep(10 * MS)
        async with server.services.db() as db:
            await db.execute(update(Message).where(Message.id == answer["id"]).values(cancel_requested=True))
            await db.commit()
        events = await _until_end(ws, 3000 * MS)
    assert events[-1]["payload"]["status"] == "cancelled"
    assert fake.client_closed.is_set()
