"""services/chat/intake.py on the real server: questions asked at once share write transactions."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, select

from productdemo.storage.models import Message
from tests.api.test_chat import _conversation
from tests.support import StartServer


async def test_questions_asked_at_once_are_written_together(start_server: StartServer) -> None:
    """Twenty questions posted at the same moment are written in a few transactions, not twenty,
    each question with its answer row; every one is accepted with its own answer."""
    server = await start_server()
    _, cookie = await server.user_session()
    conversations = [await _conversation(server, cookie) for _ in range(20)]
    inserts: list[int] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if statement.lstrip().startswith("INSERT INTO messages"):
            inserts.append(len(params) if many else 1)

    engine = server.services.db.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with server.client(cookies={"connect.sid": cookie}) as http:
            replies = await asyncio.gather(
                *(
                    http.post(f"/api/conversations/{c}/messages", json={"content": f"Q{c}?"})
                    for c in conversations
                )
            )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [r.status_code for r in replies] == [202] * 20
    assert len(inserts) <= 10, inserts
    async with server.services.db() as db:
        rows = (await db.execute(select(Message.conversation_id, Message.role, Message.seq))).all()
    assert sorted((c, r, s) for c, r, s in rows) == sorted(
        (c, r, s) for c in conversations for r, s in (("user", 1), ("assistant", 2))
    )


async def test_two_questions_at_once_in_one_conversation_one_is_refused(start_server: StartServer) -> None:
    """Two questions posted at the same moment in one conversation: one is answered, the other
    is refused with 409 while that answer is written, even when both land in one batch."""
    server = await start_server()
    _, cookie = await server.user_session()
    conversation_id = await _conversation(server, cookie)
    path = f"/api/conversations/{conversation_id}/messages"
    async with server.client(cookies={"connect.sid": cookie}) as http:
        replies = await asyncio.gather(*(http.post(path, json={"content": f"Q{n}?"}) for n in range(4)))
    assert sorted(r.status_code for r in replies) == [202, 409, 409, 409]
    async with server.services.db() as db:
        rows = (
            await db.execute(
                select(Message.role, Message.seq).where(Message.conversation_id == conversation_id)
            )
        ).all()
    assert sorted(rows) == [("assistant", 2), ("user", 1)]
