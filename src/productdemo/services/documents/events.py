"""Events the documents service publishes (to the owner and to topic ``document:<id>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from productdemo.realtime.events import Event

Status = Literal["queued", "processing", "completed", "failed"]
Stage = Literal["queued", "extracting", "chunking", "embedding", "indexing", "completed", "failed"]


class DocumentStatusUpdate(Event):
    """Where a document's processing stands. A newer update for the same document supersedes
    an older one, so a stalled socket receives only the latest (conflation)."""

    event_type = "document_status_update"
    document_id: str
    status: Status
    stage: Stage
    progress: int = Field(ge=0, le=100)
    message: str
    error: str | None = None
    #: True when a finished document starts over (re-embedding with a new model): the one
    #: update a client must apply although its status goes backwards.
    restarted: bool = False

    def conflation_key(self) -> str:
        return f"document_status_update:{self.document_id}"


class DocumentDeleted(Event):
    """A document was deleted; its processing, if any, was cancelled."""

    event_type = "document_deleted"
    document_id: str
