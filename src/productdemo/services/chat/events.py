"""Events the chat service publishes.

Answer events (``rag_progress``, ``message_chunk``, ``message_end``) go to topic
``conversation:<id>``, never to ``user:<id>``: hundreds of chunks per answer would push the
user's document events out of that stream's resume history. Small summaries a page needs
wherever it is (a conversation was created, renamed, deleted, started or finished an answer)
go to ``user:<id>`` as ``conversation_update``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from productdemo.realtime.events import Event
from productdemo.realtime.protocol import CamelModel

# ``queued``: waiting for a turn to start (``[llm] max_starting`` answers start at once).
Stage = Literal["queued", "retrieving", "ranking", "generating", "done", "failed", "cancelled"]
EndStatus = Literal["complete", "cancelled", "failed", "interrupted"]


class Source(CamelModel):
    """A passage of one of the user's documents, numbered as the answer cites it (``[n]``)."""

    n: int
    document_id: str
    filename: str
    chunk_index: int
    page: int | None
    section: str | None
    start: int
    end: int
    quote: str


class Usage(CamelModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class RagProgress(Event):
    """A stage of answering began (or the answer ended); ``elapsedMs`` counts from the question."""

    event_type = "rag_progress"
    conversation_id: str
    message_id: str
    stage: Stage
    elapsed_ms: int
    message: str
    sources: list[Source] | None = None


class MessageChunk(Event):
    """Answer text: ``delta`` belongs at character ``offset`` of the answer. Chunks are merged at
    the source (``[llm] flush_interval``), never dropped, so offsets have no gaps; a client that
    already has text up to some offset drops what it has."""

    event_type = "message_chunk"
    conversation_id: str
    message_id: str
    offset: int = Field(ge=0)
    delta: str


class MessageEnd(Event):
    """The answer ended: its final status, whole text length, citations and token usage."""

    event_type = "message_end"
    conversation_id: str
    message_id: str
    status: EndStatus
    length: int
    error: str | None = None
    citations: list[Source]
    usage: Usage


class ConversationUpdate(Event):
    """A conversation of the user's was created, renamed, or started or finished an answer
    (``deleted`` when it was removed), so every tab's list follows."""

    event_type = "conversation_update"
    conversation_id: str
    title: str
    updated_at: datetime
    streaming: bool = False
    deleted: bool = False
