"""What the API shows of conversations and messages (camelCase on the wire)."""

from __future__ import annotations

import json
from datetime import datetime

from productdemo.realtime.protocol import CamelModel
from productdemo.services.chat.events import Source, Usage
from productdemo.storage.models import Conversation, Message


class ConversationPublic(CamelModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    # An answer is being written in it (the page shows Stop, even after a reload).
    streaming: bool

    @classmethod
    def of(cls, row: Conversation, streaming: bool) -> ConversationPublic:
        return cls(
            id=row.id,
            title=row.title,
            created_at=row.created_at,
            updated_at=row.updated_at,
            streaming=streaming,
        )


class MessagePublic(CamelModel):
    """A question or an answer. For an answer still ``streaming``, ``content`` is the text so far
    and ``length`` its UTF-16 length: the offset from which live chunks continue it."""

    id: str
    role: str
    content: str
    length: int
    status: str
    error: str | None
    citations: list[Source]
    generator: str | None
    usage: Usage
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Message, content: str, length: int) -> MessagePublic:
        return cls(
            id=row.id,
            role=row.role,
            content=content,
            length=length,
            status=row.status,
            error=row.error,
            citations=[Source.model_validate(c) for c in json.loads(row.citations or "[]")],
            generator=row.generator,
            usage=Usage(prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
