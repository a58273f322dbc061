"""Conversations: create, list, read, rename, delete, ask and stop — the owner's view.

Asking writes the question and an empty ``streaming`` answer claimed by this instance in one
transaction (shared by the questions asked at the same moment: ``intake.py``), then hands the
answer to :class:`Answers`. Reading a conversation while an
answer streams here returns the text so far (with its length), so a reloaded page shows it
and then drops, by offset, the chunks that repeat it.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import BadRequest, Conflict, NotFound
from productdemo.realtime.publisher import Publisher
from productdemo.services.chat.answers import Answers
from productdemo.services.chat.events import ConversationUpdate
from productdemo.services.chat.intake import DEFAULT_TITLE, Asked, Intake
from productdemo.services.chat.live import LiveAnswer, units
from productdemo.services.chat.public import ConversationPublic, MessagePublic
from productdemo.storage.models import Conversation, Message

MAX_TITLE = 200
MAX_QUESTION = 4000
_WORD = re.compile(r"\w", re.UNICODE)


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


class ChatService:
    def __init__(self, db: async_sessionmaker[AsyncSession], events: Publisher, answers: Answers) -> None:
        self._db = db
        self._events = events
        self.answers = answers
        answers.on_end = self._answer_ended
        self._intake = Intake(answers.leases, answers.generator.name, self._start_answer)

    async def create(self, owner_id: int, title: str | None) -> ConversationPublic:
        now = datetime.now(UTC)
        conversation = Conversation(
            id=_new_id("c_"), owner_id=owner_id, title=_clean_title(title), created_at=now, updated_at=now
        )
        async with self.answers.leases.write() as db:
            db.add(conversation)
            await db.commit()
        await self._announce(conversation, streaming=False)
        return ConversationPublic.of(conversation, streaming=False)

    async def conversations(self, owner_id: int) -> list[ConversationPublic]:
        """The owner's conversations, the most recently active first."""
        async with self._db() as db:
            rows = (
                await db.scalars(
                    select(Conversation)
                    .where(Conversation.owner_id == owner_id)
                    .order_by(Conversation.updated_at.desc(), Conversation.id)
                )
            ).all()
            busy = set(
                (
                    await db.scalars(
                        select(Message.conversation_id)
                        .join(Conversation, Conversation.id == Message.conversation_id)
                        .where(Conversation.owner_id == owner_id, Message.status == "streaming")
                    )
                ).all()
            )
        return [ConversationPublic.of(c, streaming=c.id in busy) for c in rows]

    async def get(
        self, owner_id: int, conversation_id: str
    ) -> tuple[ConversationPublic, list[MessagePublic]]:
        """A conversation and its messages; an answer streaming here has its text so far."""
        async with self._db() as db:
            conversation = await self._owned(db, owner_id, conversation_id)
            rows = (
                await db.scalars(
                    select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq)
                )
            ).all()
        messages = []
        for row in rows:
            live = self.answers.get(row.id) if row.status == "streaming" else None
            # Read text and length together, at one point of the stream.
            text = live.text if live is not None else row.content
            messages.append(MessagePublic.of(row, text, units(text)))
        streaming = any(m.status == "streaming" for m in messages)
        return ConversationPublic.of(conversation, streaming), messages

    async def owner_of(self, conversation_id: str) -> int | None:
        async with self._db() as db:
            return await db.scalar(select(Conversation.owner_id).where(Conversation.id == conversation_id))

    async def rename(self, owner_id: int, conversation_id: str, title: str) -> ConversationPublic:
        async with self.answers.leases.write() as db:
            conversation = await self._owned(db, owner_id, conversation_id)
            conversation.title = _clean_title(title)
            conversation.updated_at = datetime.now(UTC)
            await db.commit()
        streaming = self._streaming_here(conversation_id)
        await self._announce(conversation, streaming)
        return ConversationPublic.of(conversation, streaming)

    async def delete(self, owner_id: int, conversation_id: str) -> None:
        """Stop its answer (if it runs here; elsewhere the claim's loss stops it), then delete."""
        async with self._db() as db:
            conversation = await self._owned(db, owner_id, conversation_id)
        for live in self._live_in(conversation_id):
            live.stop("cancelled")
        async with self.answers.leases.write() as db:
            await db.execute(delete(Conversation).where(Conversation.id == conversation_id))
            await db.commit()
        await self._events.to_user(
            owner_id,
            ConversationUpdate(
                conversation_id=conversation_id,
                title=conversation.title,
                updated_at=datetime.now(UTC),
                deleted=True,
            ),
        )

    async def ask(
        self, owner_id: int, conversation_id: str, question: str
    ) -> tuple[MessagePublic, MessagePublic]:
        """Store the question and start its answer.

        Raises:
            BadRequest: empty, too long, or wordless. Conflict: an answer is still being written.
        """
        question = question.strip()
        if not question or not _WORD.search(question):
            raise BadRequest("the question has no words")
        if len(question) > MAX_QUESTION:
            raise BadRequest(f"the question has more than {MAX_QUESTION} characters")
        now = datetime.now(UTC)
        asked = await self._intake.ask(owner_id, conversation_id, question, now)
        await self._events.to_user(
            owner_id,
            ConversationUpdate(
                conversation_id=conversation_id, title=asked.title, updated_at=now, streaming=True
            ),
        )
        return MessagePublic.of(asked.question, question, units(question)), MessagePublic.of(
            asked.answer, "", 0
        )

    def _start_answer(self, owner_id: int, asked: Asked) -> None:
        row = asked.answer
        self.answers.begin(LiveAnswer(row.conversation_id, row.id, owner_id, asked.question.content))

    async def cancel(self, owner_id: int, conversation_id: str, message_id: str) -> MessagePublic:
        """Stop an answer: at once if it runs here, through a signal to its instance if elsewhere
        (the row's flag, read at the owner's next lease renewal, if the signal is lost).

        Raises:
            NotFound: no such answer of the owner's. Conflict: it has already ended.
        """
        async with self.answers.leases.write() as db:
            await self._owned(db, owner_id, conversation_id)
            message = await db.get(Message, message_id)
            if message is None or message.conversation_id != conversation_id or message.role != "assistant":
                raise NotFound(f"no answer {message_id!r} in this conversation")
            if message.status != "streaming":
                raise Conflict(f"the answer has already ended ({message.status})")
            await db.execute(update(Message).where(Message.id == message_id).values(cancel_requested=True))
            await db.commit()
        live = self.answers.get(message_id)
        text = live.text if live is not None else ""
        await self.answers.stop_anywhere(message_id)
        return MessagePublic.of(message, text, units(text))

    async def _owned(self, db: AsyncSession, owner_id: int, conversation_id: str) -> Conversation:
        conversation = await db.get(Conversation, conversation_id)
        if conversation is None or conversation.owner_id != owner_id:
            raise NotFound(f"no conversation {conversation_id!r}")
        return conversation

    def _live_in(self, conversation_id: str) -> list[LiveAnswer]:
        return [live for live in self.answers.running() if live.conversation_id == conversation_id]

    def _streaming_here(self, conversation_id: str) -> bool:
        return bool(self._live_in(conversation_id))

    async def _answer_ended(self, owner_id: int, conversation_id: str) -> None:
        async with self._db() as db:
            conversation = await db.get(Conversation, conversation_id)
        if conversation is not None:
            await self._announce(conversation, streaming=False)

    async def _announce(self, conversation: Conversation, streaming: bool) -> None:
        await self._events.to_user(
            conversation.owner_id,
            ConversationUpdate(
                conversation_id=conversation.id,
                title=conversation.title,
                updated_at=conversation.updated_at,
                streaming=streaming,
            ),
        )


def _clean_title(title: str | None) -> str:
    flat = " ".join("".join(ch for ch in (title or "") if ch.isprintable()).split())
    return flat[:MAX_TITLE] or DEFAULT_TITLE
