"""Questions written in batches: one write transaction for every question waiting (group commit).

Asking writes the question and its empty ``streaming`` answer, claimed by this instance, and
moves the conversation's title and time, in one transaction. On SQLite writes take turns, and
each statement is a round trip through aiosqlite's thread and back through a busy event loop:
at 200 questions at once, a transaction each (~35 ms under that load) made the last question
wait seven seconds. Here the questions that arrive while a batch is being written wait for
the next, which writes them all with four statements (one read of every conversation, one
insert of every message, one update of every conversation, the commit). PostgreSQL saves the
same connections and round trips.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table, bindparam, func, select, update

from productdemo.errors import Conflict, DomainError, NotFound
from productdemo.services.chat.leases import Leases
from productdemo.storage.database import to_completion
from productdemo.storage.models import Conversation, Message

DEFAULT_TITLE = "New conversation"

_conversations: Table = Conversation.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Asked:
    """A question written: its two rows and the conversation's title after it."""

    question: Message
    answer: Message
    title: str


@dataclass(eq=False)
class _Waiting:
    owner_id: int
    conversation_id: str
    text: str
    now: datetime
    done: asyncio.Future[Asked] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Intake:
    def __init__(self, leases: Leases, generator: str, started: Callable[[int, Asked], None]) -> None:
        """``started(owner_id, asked)`` is called for each question once it is committed (it
        starts the answer, whether or not the request that asked is still waiting)."""
        self._leases = leases
        self._generator = generator
        self._started = started
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def ask(self, owner_id: int, conversation_id: str, text: str, now: datetime) -> Asked:
        """Write the question and its answer row with the next batch.

        Raises:
            NotFound: no such conversation of the owner's. Conflict: an answer is being written.
        """
        waiting = _Waiting(owner_id, conversation_id, text, now)
        self._waiting.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_all(), name="chat-intake")
        return await asyncio.shield(waiting.done)

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                # A request that gave up must not leave a transaction half done (rule 8).
                await to_completion(self._write(batch))
            except Exception as exc:
                for waiting in batch:
                    if not waiting.done.done():
                        waiting.done.set_exception(exc)

    async def _write(self, batch: list[_Waiting]) -> None:
        streaming = (
            select(func.count())
            .where(Message.conversation_id == Conversation.id, Message.status == "streaming")
            .correlate(Conversation)
            .scalar_subquery()
        )
        last = (
            select(func.coalesce(func.max(Message.seq), 0))
            .where(Message.conversation_id == Conversation.id)
            .correlate(Conversation)
            .scalar_subquery()
        )
        leases = self._leases
        outcomes: list[tuple[_Waiting, Asked | DomainError]] = []
        async with leases.write() as db:
            rows = await db.execute(
                select(Conversation.id, Conversation.owner_id, Conversation.title, streaming, last).where(
                    Conversation.id.in_({w.conversation_id for w in batch})
                )
            )
            state = {
                str(cid): [owner, str(title), bool(busy), int(seq)] for cid, owner, title, busy, seq in rows
            }
            titles: dict[str, tuple[str, datetime]] = {}
            for waiting in batch:
                found = state.get(waiting.conversation_id)
                if found is None or found[0] != waiting.owner_id:
                    outcomes.append((waiting, NotFound(f"no conversation {waiting.conversation_id!r}")))
                    continue
                if found[2]:
                    outcomes.append(
                        (
                            waiting,
                            Conflict(
                                "an answer is still being written in this conversation; stop it or wait"
                            ),
                        )
                    )
                    continue
                seq = found[3]
                question = _message(
                    waiting.conversation_id, seq + 1, "user", waiting.text, "complete", waiting.now
                )
                answer = _message(waiting.conversation_id, seq + 2, "assistant", "", "streaming", waiting.now)
                answer.generator = self._generator
                answer.claimed_by = leases.instance_id
                answer.lease_until = leases.until()
                db.add_all([question, answer])
                # The next question of this conversation in the batch finds this answer running.
                found[2], found[3] = True, seq + 2
                if found[1] == DEFAULT_TITLE:
                    found[1] = _title_from(waiting.text)
                titles[waiting.conversation_id] = (found[1], waiting.now)
                outcomes.append((waiting, Asked(question, answer, found[1])))
            if titles:
                await db.execute(
                    update(_conversations)
                    .where(_conversations.c.id == bindparam("b_id"))
                    .values(title=bindparam("b_title"), updated_at=bindparam("b_now")),
                    [{"b_id": cid, "b_title": title, "b_now": now} for cid, (title, now) in titles.items()],
                )
            await db.commit()
        for waiting, outcome in outcomes:
            if isinstance(outcome, Asked):
                self._started(waiting.owner_id, outcome)
                waiting.done.set_result(outcome)
            else:
                waiting.done.set_exception(outcome)


def _title_from(question: str) -> str:
    flat = " ".join(question.split())
    return flat if len(flat) <= 60 else flat[:59].rstrip() + "…"


def _message(conversation_id: str, seq: int, role: str, content: str, status: str, now: datetime) -> Message:
    return Message(
        id="m_" + secrets.token_hex(8),
        conversation_id=conversation_id,
        seq=seq,
        role=role,
        content=content,
        status=status,
        error=None,
        citations=json.dumps([]),
        cancel_requested=False,
        created_at=now,
        updated_at=now,
    )
