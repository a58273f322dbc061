"""Publishing a document's progress: monotonic, rate-limited, first and last always sent.

Every stage change and the final state are published at once (and saved, so the REST
snapshot agrees). Progress within a stage (e.g. PDF pages) is published at most every
``min_interval`` seconds — about ten events per second per document — and never goes
backwards.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from productdemo.services.documents.events import DocumentStatusUpdate, Stage, Status

#: publish(update, save): deliver the update; ``save`` asks for the database row too.
Sink = Callable[[DocumentStatusUpdate, bool], Awaitable[None]]

_STATUS_OF_STAGE: dict[Stage, Status] = {
    "queued": "queued",
    "extracting": "processing",
    "chunking": "processing",
    "embedding": "processing",
    "indexing": "processing",
    "completed": "completed",
    "failed": "failed",
}


@dataclass
class ProgressReporter:
    document_id: str
    sink: Sink
    min_interval: float = 0.1
    clock: Callable[[], float] = time.monotonic
    progress: int = 0
    stage: Stage = "queued"
    _last_sent: float = float("-inf")

    async def stage_changed(
        self, stage: Stage, progress: int, message: str, error: str | None = None
    ) -> None:
        """A new stage (or the final state): always published and saved."""
        self.stage = stage
        await self._send(progress, message, error, save=True)

    async def advanced(self, progress: int, message: str) -> None:
        """Progress within the current stage; dropped if too soon after the last event."""
        if progress <= self.progress or self.clock() - self._last_sent < self.min_interval:
            return
        await self._send(progress, message, None, save=False)

    async def _send(self, progress: int, message: str, error: str | None, save: bool) -> None:
        self.progress = max(self.progress, min(progress, 100))
        self._last_sent = self.clock()
        update = DocumentStatusUpdate(
            document_id=self.document_id,
            status=_STATUS_OF_STAGE[self.stage],
            stage=self.stage,
            progress=self.progress,
            message=message,
            error=error,
        )
        await self.sink(update, save)
