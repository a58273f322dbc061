"""How many answers do their start-up work at once: ``[llm] max_starting``, the rest wait in turn.

An answer's start-up is retrieval (a full-text query, the question's embedding, a vector
search), the history read, the prompt and the model's request, up to its first piece of
text. Most of it waits on shared things that serve one at a time anyway (the embedding lock,
SQLite's pooled connections, each an aiosqlite thread taking the GIL), so starting 200 answers
together does not start them sooner: it fills the event loop's ready queue and the GIL with
their steps, and the tokens of the answers already streaming wait behind them (p99 1.1–1.5 s
while 200 answers started; docs/performance.md, E2). Bounded, an answer that streams waits
behind at most ``max_starting`` start-ups.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager


class StartGate:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        # asyncio.Semaphore wakes waiters in order and hands a cancelled waiter's turn on.
        self._turns = asyncio.Semaphore(limit)
        self.waiting = 0
        self.starting = 0

    @asynccontextmanager
    async def turn(self, on_wait: Callable[[int], Awaitable[None]]) -> AsyncIterator[None]:
        """Hold one of the ``limit`` start-up turns for the block, waiting for one if none is free.

        Args:
            on_wait: awaited before waiting, with the number of answers already waiting, so the
                answer says it is queued; not called when a turn is free at once.

        Raises:
            asyncio.CancelledError: the answer was stopped while it waited (its turn is not taken).
        """
        if self._turns.locked():
            ahead = self.waiting
            self.waiting += 1
            try:
                await on_wait(ahead)
                await self._turns.acquire()
            finally:
                self.waiting -= 1
        else:
            await self._turns.acquire()
        self.starting += 1
        try:
            yield
        finally:
            self.starting -= 1
            self._turns.release()
