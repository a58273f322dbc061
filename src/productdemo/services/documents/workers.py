"""Extraction in worker processes, with page progress and cancellation.

pypdf is pure Python: extracting in a thread holds the GIL for long stretches, and the
event loop then answers sockets late (measured: ping p99 above 200 ms on 1,000 idle
sockets while PDFs were processed; see docs/performance.md). Worker processes keep the
loop free. Each job gets a slot in a small shared array: the worker reports
``(slot, done, total)`` on a queue after every page, which a reader thread copies into
the caller's ``pages`` list, and checks the slot's cancel flag, stopping at the next page
when the document was deleted.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.queues import Queue
from typing import Any

from productdemo.services.documents.extract import extract
from productdemo.services.documents.parts import ExtractedPart
from productdemo.services.documents.sniff import DocumentKind

# --- in the worker process ---------------------------------------------------------------

_queue: Queue[tuple[int, int, int] | None] | None = None
_flags: Any = None


class ExtractionCancelled(Exception):
    """The document was deleted while a worker extracted it."""


def _init(queue: Queue[tuple[int, int, int] | None], flags: Any, server_pid: int) -> None:
    global _queue, _flags
    _queue, _flags = queue, flags
    threading.Thread(target=_exit_with, args=(server_pid,), name="server-watch", daemon=True).start()


def _exit_with(server_pid: int) -> None:
    # A server killed with SIGKILL cannot stop its pool: its workers stop themselves.
    while True:
        time.sleep(1)
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            os._exit(0)


def _run(slot: int, data: bytes, kind: DocumentKind, encoding: str | None) -> list[ExtractedPart]:
    assert _queue is not None
    queue = _queue

    def report(done: int, total: int) -> None:
        if _flags[slot]:
            raise ExtractionCancelled
        queue.put((slot, done, total))

    return extract(data, kind, encoding, report)


# --- in the server -----------------------------------------------------------------------


class ExtractionPool:
    """``workers`` processes extracting documents; at most ``workers`` jobs run at once."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._slots = max(2 * workers, 4)
        self._free = list(range(self._slots))
        self._pages: dict[int, list[int]] = {}

    def start(self) -> None:
        """Create the queue, the shared flags, the pool and the progress reader (start-up)."""
        # forkserver: forking the threaded server process itself is unsafe.
        context = multiprocessing.get_context("forkserver")
        self._queue: Queue[tuple[int, int, int] | None] = context.Queue()
        self._flags = context.RawArray("b", self._slots)
        self._pool = ProcessPoolExecutor(
            self._workers,
            mp_context=context,
            initializer=_init,
            initargs=(self._queue, self._flags, os.getpid()),
        )
        self._reader = threading.Thread(target=self._read, name="extraction-progress", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while (item := self._queue.get()) is not None:
            slot, done, total = item
            pages = self._pages.get(slot)
            if pages is not None:
                pages[0], pages[1] = done, total

    async def extract(
        self, data: bytes, kind: DocumentKind, encoding: str | None, pages: list[int]
    ) -> list[ExtractedPart]:
        """Extract in a worker; ``pages`` receives ``[done, total]`` as pages are read.

        Raises:
            DocumentError: as :func:`~.extract.extract` does.
        """
        while not self._free:
            await asyncio.sleep(0.05)  # every slot's job is still winding down after a cancel
        slot = self._free.pop()
        self._flags[slot] = 0
        self._pages[slot] = pages
        future: Future[list[ExtractedPart]] = self._pool.submit(_run, slot, data, kind, encoding)
        future.add_done_callback(lambda _f: self._release(slot))
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self._flags[slot] = 1
            raise

    def _release(self, slot: int) -> None:
        self._pages.pop(slot, None)
        self._free.append(slot)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._queue.put(None)
        self._reader.join(timeout=5)
        self._queue.close()
