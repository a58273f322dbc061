"""Extraction in worker processes, with page progress and cancellation.

pypdf is pure Python: extracting in a thread holds the GIL for long stretches, and the
event loop then answers sockets late (measured: ping p99 above 200 ms on 1,000 idle
sockets while PDFs were processed; see docs/performance.md). Worker processes keep the
loop free. Each job gets a slot in small shared arrays: after every page the worker
writes ``done, total`` into its slot, which the waiting caller copies into its ``pages``
list, and checks the slot's cancel flag, stopping at the next page when the document was
deleted. Plain shared memory, no queue: a worker killed mid-write cannot leave a lock
held that would stop every later worker's progress (a ``multiprocessing.Queue`` can).

A worker process can die (killed by the OOM killer, a crash in a parser): the executor
then fails every job it holds with ``BrokenProcessPool`` and accepts no more. The pool
replaces a broken executor with a new one at once and tells the caller its job's worker
died (:class:`WorkerCrashed`); the caller decides whether to try the document again. If
no new executor can be made, the pool reports itself unhealthy (``/api/ready``) and every
job raises :class:`PoolUnavailable` until one can.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from productdemo.services.documents.extract import extract
from productdemo.services.documents.parts import ExtractedPart
from productdemo.services.documents.sniff import DocumentKind

# --- in the worker process ---------------------------------------------------------------

_progress: Any = None
_flags: Any = None

#: How often a waiting job copies its worker's page count (seconds).
PROGRESS_POLL = 0.05


class ExtractionCancelled(Exception):
    """The document was deleted while a worker extracted it."""


class WorkerCrashed(Exception):
    """The worker process extracting the document died (killed, out of memory, crashed)."""


class PoolUnavailable(Exception):
    """No worker process can be started at the moment; the document was not tried."""


def _init(progress: Any, flags: Any, server_pid: int) -> None:
    global _progress, _flags
    _progress, _flags = progress, flags
    threading.Thread(target=exit_with, args=(server_pid,), name="server-watch", daemon=True).start()


def exit_with(server_pid: int) -> None:
    """Run in a worker process's thread: a server killed with SIGKILL cannot stop its pool, so
    its workers stop themselves once the server is gone."""
    while True:
        time.sleep(1)
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            os._exit(0)


def _run(slot: int, data: bytes, kind: DocumentKind, encoding: str | None) -> list[ExtractedPart]:
    def report(done: int, total: int) -> None:
        if _flags[slot]:
            raise ExtractionCancelled
        _progress[2 * slot], _progress[2 * slot + 1] = done, total

    return extract(data, kind, encoding, report)


# --- in the server -----------------------------------------------------------------------


class ExtractionPool:
    """``workers`` processes extracting documents; at most ``workers`` jobs run at once."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._slots = max(2 * workers, 4)
        self._free = list(range(self._slots))
        self._pool: ProcessPoolExecutor | None = None
        self.broken: str | None = None  # why no executor could be made, while that lasts
        self.replaced = 0  # executors replaced after a worker died

    def start(self) -> None:
        """Create the shared progress and cancel flags, and the pool (start-up)."""
        # forkserver: forking the threaded server process itself is unsafe.
        self._context = multiprocessing.get_context("forkserver")
        self._progress = self._context.RawArray("i", 2 * self._slots)
        self._flags = self._context.RawArray("b", self._slots)
        self._pool = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._workers,
            mp_context=self._context,
            initializer=_init,
            initargs=(self._progress, self._flags, os.getpid()),
        )

    @property
    def healthy(self) -> bool:
        return self.broken is None

    def _executor(self) -> ProcessPoolExecutor:
        """The current executor, made anew if the last one broke and could not be replaced."""
        if self._pool is None:
            try:
                self._pool = self._new_executor()
            except Exception as exc:
                self.broken = f"cannot start worker processes ({type(exc).__name__}: {exc})"
                raise PoolUnavailable(self.broken) from exc
            self.broken = None
        return self._pool

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        """``pool`` broke (a worker died): shut it down and make a new one, once per breakage."""
        if self._pool is not pool:
            return  # another job of the same executor replaced it already
        self._pool = None
        self.replaced += 1
        pool.shutdown(wait=False, cancel_futures=True)
        try:
            self._executor()
        except PoolUnavailable:
            pass  # reported by ``healthy``; the next job tries again

    async def extract(
        self, data: bytes, kind: DocumentKind, encoding: str | None, pages: list[int]
    ) -> list[ExtractedPart]:
        """Extract in a worker; ``pages`` receives ``[done, total]`` as pages are read.

        Raises:
            DocumentError: as :func:`~.extract.extract` does.
            WorkerCrashed: the worker process died during this job (the pool is replaced).
            PoolUnavailable: no worker process can be started.
        """
        while not self._free:
            await asyncio.sleep(0.05)  # every slot's job is still winding down after a cancel
        slot = self._free.pop()
        self._flags[slot] = 0
        self._progress[2 * slot] = self._progress[2 * slot + 1] = 0
        submitted = False
        try:
            pool = self._executor()
            try:
                future: Future[list[ExtractedPart]] = pool.submit(_run, slot, data, kind, encoding)
            except (BrokenProcessPool, RuntimeError, OSError) as exc:
                self._replace(pool)
                raise PoolUnavailable(f"cannot start a worker process ({type(exc).__name__})") from exc
            # The slot is free again when the job ends, even one left running by a cancel.
            future.add_done_callback(lambda _f: self._release(slot))
            submitted = True
        finally:
            if not submitted:
                self._release(slot)
        job = asyncio.wrap_future(future)
        try:
            while True:
                finished, _ = await asyncio.wait({job}, timeout=PROGRESS_POLL)
                pages[0], pages[1] = self._progress[2 * slot], self._progress[2 * slot + 1]
                if finished:
                    return job.result()
        except BrokenProcessPool:
            self._replace(pool)
            raise WorkerCrashed("the extraction process stopped unexpectedly") from None
        except asyncio.CancelledError:
            self._flags[slot] = 1
            job.cancel()  # the worker's own end (cancelled at its next page) is not awaited
            raise

    def _release(self, slot: int) -> None:
        self._free.append(slot)

    async def close(self) -> None:
        """Stop the workers (each at its next page) without blocking the event loop meanwhile."""
        for slot in range(self._slots):
            self._flags[slot] = 1
        if self._pool is not None:
            await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
