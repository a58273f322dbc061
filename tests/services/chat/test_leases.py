"""services/chat/leases.py on the real server: abandoned answers end, a lost claim stops the work."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from productdemo.services.chat.leases import Leases
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


async def test_one_keeper_renews_every_answer_of_the_instance_in_one_statement(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """Renewing the leases of many streaming answers costs one UPDATE per round for the whole
    instance, not one per answer, so the connections it needs do not grow with the answers."""
    lease = 600 * MS
    server = await start_server(llm={"provider": "openai", "openai_url": fake.url, "lease_seconds": lease})
    _, cookie = await server.user_session()
    fake.tokens, fake.delay = [f"k{n} " for n in range(500)], 20 * MS
    renewals: list[Any] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        # A renewal: sets the lease and reads back whether Stop was asked for.
        head, _, returned = statement.partition("RETURNING")
        if head.lstrip().startswith("UPDATE messages SET") and "cancel_requested" in returned:
            renewals.append(params)

    engine = server.services.db.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        conversations = [await _conversation(server, cookie) for _ in range(6)]
        answers = [await _ask(server, cookie, c, "Go on") for c in conversations]
        while fake.tokens_sent < 6 * 3:
            await asyncio.sleep(10 * MS)
        renewals.clear()
        await asyncio.sleep(4 * lease)
        rounds = len(renewals)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # About one round per third of the lease; per-answer keepers would make six per round.
    assert 6 <= rounds <= 14
    ids = {a["id"] for a in answers}
    assert ids <= {str(v) for v in _flat(renewals[-1])}
    async with server.client(cookies={"connect.sid": cookie}) as http:
        for c, a in zip(conversations, answers, strict=True):
            await http.post(f"/api/conversations/{c}/messages/{a['id']}/cancel")


def _flat(params: Any) -> list[Any]:
    """Bound values of a statement, whatever the driver's parameter style."""
    if isinstance(params, dict):
        return [x for v in params.values() for x in _flat(v)]
    if isinstance(params, list | tuple):
        return [x for v in params for x in _flat(v)]
    return [params]


async def test_a_late_renewal_never_lets_the_instance_interrupt_its_own_live_answer(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """An answer whose renewal comes late (a busy pool, a slow disk) while its instance is alive and
    generating is not ended as interrupted by that instance's own sweep: it completes."""
    server = await start_server(llm={"provider": "openai", "openai_url": fake.url, "lease_seconds": 900 * MS})
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    fake.tokens, fake.delay = [f"l{n} " for n in range(80)], 20 * MS
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await _follow(ws, conversation_id)
        answer = await _ask(server, cookie, conversation_id, "Late but alive")
        while fake.tokens_sent < 3:
            await asyncio.sleep(10 * MS)
        # As if the renewals were held up: for a while the lease keeps running out mid-stream.
        for _ in range(20):
            async with server.services.db() as db:
                past = datetime.now(UTC) - timedelta(seconds=5)
                await db.execute(
                    update(Message)
                    .where(Message.id == answer["id"], Message.status == "streaming")
                    .values(lease_until=past)
                )
                await db.commit()
            await asyncio.sleep(50 * MS)
        events = await _until_end(ws, 5000 * MS)
    end = events[-1]["payload"]
    assert (end["messageId"], end["status"]) == (answer["id"], "complete")
    assert "".join(e["payload"]["delta"] for e in events if e["type"] == "message_chunk") == "".join(
        fake.tokens
    )


async def test_renewals_that_fail_for_a_while_are_retried_and_the_answer_goes_on(
    start_server: StartServer, fake: FakeOpenAI
) -> None:
    """Lease renewals that fail for less than the lease (a pool timeout, a dropped connection)
    are retried soon; the answer keeps its claim and completes."""
    server = await start_server(llm={"provider": "openai", "openai_url": fake.url, "lease_seconds": 900 * MS})
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    fake.tokens, fake.delay = [f"r{n} " for n in range(80)], 20 * MS
    failures = 0

    def failing(_conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool) -> None:
        nonlocal failures
        head, _, returned = statement.partition("RETURNING")
        if (
            head.lstrip().startswith("UPDATE messages SET")
            and "cancel_requested" in returned
            and failures < 3
        ):
            failures += 1
            raise ConnectionResetError("renewal lost its connection")

    engine = server.services.db.kw["bind"].sync_engine
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await _follow(ws, conversation_id)
        event.listen(engine, "before_cursor_execute", failing)
        try:
            answer = await _ask(server, cookie, conversation_id, "Keep at it")
            events = await _until_end(ws, 5000 * MS)
        finally:
            event.remove(engine, "before_cursor_execute", failing)
    assert failures == 3
    end = events[-1]["payload"]
    assert (end["messageId"], end["status"]) == (answer["id"], "complete")


async def test_keepers_and_sweeps_cancelled_mid_transaction_leave_the_database_writable(
    start_server: StartServer,
) -> None:
    """The chat's background writes (the lease keeper saving text, the sweep) run each
    transaction to completion when cancelled, so on SQLite no pooled connection is left holding
    the write lock (guarantees rule 8)."""
    server = await start_server()
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    answer = await _ask(server, cookie, conversation_id, "Anything")
    async with asyncio.timeout(5000 * MS):
        while server.services.chat.answers.get(answer["id"]) is not None:
            await asyncio.sleep(10 * MS)
    base = server.services.chat.answers.leases
    # A keeper renewing as fast as it can, on a row it holds, so cancels land mid-transaction.
    leases = Leases(base.db, base.instance_id, seconds=3 * MS, serialize_writes=base.serializes)
    async with base.write() as db:
        await db.execute(
            update(Message)
            .where(Message.id == answer["id"])
            .values(status="streaming", claimed_by=base.instance_id, lease_until=datetime.now(UTC))
        )
        await db.commit()
    rng = random.Random(11)
    text = iter(range(1_000_000))

    async def sweeping() -> None:
        while True:
            await leases.expired()

    for n in range(80):
        leases.hold(answer["id"], lambda: "x" * next(text), lambda: None, lambda: None)
        sweeper = asyncio.create_task(sweeping())
        await asyncio.sleep(rng.random() * 10 * MS)
        sweeper.cancel()
        await asyncio.gather(sweeper, leases.close(), return_exceptions=True)
        async with asyncio.timeout(1000 * MS), base.write() as db:
            await db.execute(
                update(Conversation).where(Conversation.id == conversation_id).values(title=f"t{n}")
            )
            await db.commit()
