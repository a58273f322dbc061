"""The answer pipeline: retrieve, rank, generate — each stage live on ``conversation:<id>``.

An answer is a job that always ends. Its message row is written when it starts (by the
service) and once when it ends (here); in between the text lives in :class:`LiveAnswer` and
goes out as merged ``message_chunk`` events. Stop (an explicit request, through any instance)
cancels the work, which for an HTTP provider closes the upstream connection; the partial text
is kept as ``cancelled``. A shutdown ends running answers as ``interrupted``; a crash leaves
that to the lease sweep (``leases.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select, update

from productdemo.errors import BadRequest, DomainError
from productdemo.realtime.publisher import Publisher
from productdemo.realtime.signals import Signals
from productdemo.services.chat.events import (
    EndStatus,
    MessageChunk,
    MessageEnd,
    RagProgress,
    Source,
    Stage,
    Usage,
)
from productdemo.services.chat.generators import Generator, GeneratorError, Passage, Tally, Turn
from productdemo.services.chat.leases import Leases
from productdemo.services.chat.live import LiveAnswer, units
from productdemo.services.chat.prompt import cited, earlier_turns
from productdemo.services.chat.retrieval import PassageSearch, rank
from productdemo.services.chat.startup import StartGate
from productdemo.storage.database import to_completion
from productdemo.storage.models import Conversation, Message

logger = logging.getLogger(__name__)

MAX_QUERY = 200
# Earlier messages read for the chat history: more than any character budget keeps.
HISTORY_MESSAGES = 100
# Stop made through another instance: its data is the answer's message id.
STOP_SIGNAL = "chat.stop"

_END_STAGE: dict[EndStatus, Stage] = {
    "complete": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "interrupted": "failed",
}


class Ended(Protocol):
    """Told when an answer ended, so the conversation's summary follows (the service)."""

    async def __call__(self, owner_id: int, conversation_id: str) -> None: ...


class Answers:
    def __init__(
        self,
        leases: Leases,
        events: Publisher,
        signals: Signals,
        search: PassageSearch,
        generator: Generator,
        sources: int,
        flush_interval: float,
        history_chars: int = 0,
        max_starting: int = 8,
    ) -> None:
        self.leases = leases
        self._db = leases.db
        self._events = events
        self._signals = signals
        signals.on_signal(STOP_SIGNAL, self._stop_here)
        self._search = search
        self.generator = generator
        self._sources = sources
        self._interval = flush_interval
        self._history_chars = history_chars
        self.starts = StartGate(max_starting)
        self._live: dict[str, LiveAnswer] = {}
        self.on_end: Ended | None = None
        self._sweeper: asyncio.Task[None] | None = None

    def get(self, message_id: str) -> LiveAnswer | None:
        return self._live.get(message_id)

    def running(self) -> list[LiveAnswer]:
        return list(self._live.values())

    async def stop_anywhere(self, message_id: str) -> None:
        """Stop an answer whichever instance writes it: at once here, through a signal elsewhere.

        The caller has set ``cancel_requested`` on the row first: if the signal is lost (Redis
        down), the owner still reads the flag at its next lease renewal.
        """
        if self._stop_here(message_id):
            return
        try:
            await self._signals.signal(STOP_SIGNAL, message_id)
        except DomainError as exc:
            logger.warning("answer %s: stop not signalled (%s); the owner reads the flag", message_id, exc)

    def _stop_here(self, message_id: str) -> bool:
        live = self._live.get(message_id)
        return live is not None and live.stop("cancelled")

    async def start(self, single: bool) -> None:
        """End the answers a previous run of this instance left (every one when ``single``),
        then sweep for answers whose instance died, every third of the lease."""
        await self._end_interrupted(await self.leases.expired(at_start=True, single=single))
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="answers-sweep")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.leases.seconds / 3)
            try:
                await self._end_interrupted(await self.leases.expired())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("sweeping abandoned answers failed; retrying")

    async def _end_interrupted(self, ended: list[tuple[str, str]]) -> None:
        for conversation_id, message_id in ended:
            logger.info("answer %s was abandoned by its instance: interrupted", message_id)
            async with self._db() as db:
                row = await db.get(Message, message_id)
                owner = await db.scalar(
                    select(Conversation.owner_id).where(Conversation.id == conversation_id)
                )
            if row is None or owner is None:
                continue
            end = MessageEnd(
                conversation_id=conversation_id,
                message_id=message_id,
                status="interrupted",
                length=units(row.content),
                error=row.error,
                citations=[],
                usage=Usage(),
            )
            await self._publish(f"conversation:{conversation_id}", end)
            if self.on_end is not None:
                await self.on_end(owner, conversation_id)

    def begin(self, live: LiveAnswer) -> None:
        """Start answering; the message row exists, claimed by this instance."""
        self._live[live.message_id] = live
        sources: list[Source] = []
        tally = Tally()
        loop = asyncio.get_running_loop()
        work = live.work = loop.create_task(self._answer(live, sources, tally))
        # Held from the moment its row is committed (this call), never later: the sweep skips
        # only held answers, and with a short lease a late hold could find it already swept.
        self.leases.hold(
            live.message_id, lambda: live.text, lambda: live.stop("cancelled"), lambda: live.stop("lost")
        )
        live.job = loop.create_task(self._run(live, work, sources, tally), name=f"answer-{live.message_id}")

    async def stop(self) -> None:
        """Shutting down: end every running answer as ``interrupted`` and wait for them."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        jobs = []
        for live in list(self._live.values()):
            live.stop("interrupted")
            if live.job is not None:
                jobs.append(live.job)
        await asyncio.gather(*jobs, return_exceptions=True)
        await self.leases.close()
        await self.generator.close()

    async def _run(
        self, live: LiveAnswer, work: asyncio.Task[None], sources: list[Source], tally: Tally
    ) -> None:
        topic = f"conversation:{live.conversation_id}"

        async def send_chunk(offset: int, delta: str) -> None:
            chunk = MessageChunk(
                conversation_id=live.conversation_id, message_id=live.message_id, offset=offset, delta=delta
            )
            await self._publish(topic, chunk)

        status: EndStatus = "complete"
        error: str | None = None
        flusher = asyncio.get_running_loop().create_task(live.flush_loop(send_chunk, self._interval))
        try:
            await work
        except asyncio.CancelledError:
            if live.stop_reason is None:
                raise
            status = "cancelled" if live.stop_reason == "cancelled" else "interrupted"
        except GeneratorError as exc:
            status, error = "failed", exc.message
        except Exception as exc:
            logger.exception("answer %s failed", live.message_id)
            status, error = "failed", f"internal error ({type(exc).__name__}); ask again"
        finally:
            # Released before the final write: the keeper must not renew a claim being released.
            self.leases.release(live.message_id)
            live.close_flusher()
            await asyncio.gather(flusher, return_exceptions=True)
        try:
            await live.flush(send_chunk)
            if live.stop_reason == "lost":
                return  # Another instance ended it; the row is no longer ours to write.
            citations = cited(live.text, sources)
            usage = Usage(prompt_tokens=tally.prompt_tokens, completion_tokens=tally.completion_tokens)
            if not await self._finish(live, status, error, citations, usage):
                return
            stage = _END_STAGE[status]
            note = error or {"done": "Answered", "cancelled": "Stopped", "failed": "Interrupted"}[stage]
            await self._progress(live, stage, note)
            end = MessageEnd(
                conversation_id=live.conversation_id,
                message_id=live.message_id,
                status=status,
                length=live.length,
                error=error,
                citations=citations,
                usage=usage,
            )
            await self._publish(topic, end)
            if self.on_end is not None:
                await self.on_end(live.owner_id, live.conversation_id)
        finally:
            self._live.pop(live.message_id, None)

    async def _answer(self, live: LiveAnswer, sources: list[Source], tally: Tally) -> None:
        async def queued(ahead: int) -> None:
            await self._progress(
                live, "queued", f"Waiting to start ({ahead} answers waiting before this one)"
            )

        # The turn is held until the model's first piece: opening its stream (connection, TLS,
        # request) is start-up work too. Stop cancels this task wherever it waits, turn or not.
        async with self.starts.turn(queued):
            pieces = await self._start(live, sources, tally)
            first = await anext(pieces, None)
        if first is None:
            return
        live.add(first)
        async for piece in pieces:
            live.add(piece)

    async def _start(self, live: LiveAnswer, sources: list[Source], tally: Tally) -> AsyncIterator[str]:
        """Retrieve, rank and read the history; the generator's stream, not yet started."""
        await self._progress(live, "retrieving", "Searching your documents")
        try:
            # Retrieval takes a bounded query; a question's opening words carry its subject.
            found = await self._search.passages(live.owner_id, live.question[:MAX_QUERY], self._sources * 4)
        except BadRequest:
            found = []  # no searchable word: the generator says it found nothing
        await self._progress(live, "ranking", f"Ranking {len(found)} matching passages")
        passages: list[Passage] = rank(found, self._sources)
        sources.extend(p.source for p in passages)
        documents = len({s.document_id for s in sources})
        await self._progress(
            live,
            "generating",
            f"Writing the answer ({self.generator.name}): {len(sources)} passages, {documents} documents",
            sources,
        )
        history = await self._history(live)
        return aiter(self.generator.stream(live.question, passages, tally, history))

    async def _history(self, live: LiveAnswer) -> list[Turn]:
        """The conversation's earlier turns that fit the budget (none when it is 0)."""
        if self._history_chars <= 0:
            return []
        this = select(Message.seq).where(Message.id == live.message_id).scalar_subquery()
        async with self._db() as db:
            rows = (
                await db.execute(
                    select(Message.role, Message.content, Message.status)
                    # Below the question this answer is for (the message just before it).
                    .where(Message.conversation_id == live.conversation_id, Message.seq < this - 1)
                    .order_by(Message.seq.desc())
                    .limit(HISTORY_MESSAGES)
                )
            ).all()
        oldest_first = [(str(r), str(c), str(s)) for r, c, s in reversed(rows)]
        return earlier_turns(oldest_first, self._history_chars)

    async def _finish(
        self, live: LiveAnswer, status: EndStatus, error: str | None, citations: list[Source], usage: Usage
    ) -> bool:
        """The one write at the end, guarded by this instance's claim; run to completion even if
        the job is cancelled meanwhile (guarantees rule 8)."""
        return await to_completion(self._write_end(live, status, error, citations, usage))

    async def _write_end(
        self, live: LiveAnswer, status: EndStatus, error: str | None, citations: list[Source], usage: Usage
    ) -> bool:
        async with self.leases.write() as db:
            result = await db.execute(
                update(Message)
                .where(self.leases.owned(live.message_id))
                .values(
                    content=live.text,
                    status=status,
                    error=error,
                    citations=json.dumps([c.model_dump(by_alias=True) for c in citations]),
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    claimed_by=None,
                    lease_until=None,
                    updated_at=datetime.now(UTC),
                )
            )
            await db.commit()
        return bool(getattr(result, "rowcount", 1))

    async def _progress(
        self, live: LiveAnswer, stage: Stage, message: str, sources: list[Source] | None = None
    ) -> None:
        event = RagProgress(
            conversation_id=live.conversation_id,
            message_id=live.message_id,
            stage=stage,
            elapsed_ms=live.elapsed_ms(),
            message=message,
            sources=sources,
        )
        await self._publish(f"conversation:{live.conversation_id}", event)

    async def _publish(self, topic: str, event: RagProgress | MessageChunk | MessageEnd) -> None:
        try:
            await self._events.to_topic(topic, event)
        except DomainError as exc:
            # The answer goes on; pages catch up over REST once the broker is back.
            logger.warning("%s: event not published: %s", topic, exc)
