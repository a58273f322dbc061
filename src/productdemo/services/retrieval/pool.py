"""Embedding in worker processes: the model runs there, batch by batch, off the event loop.

Each worker loads the model once (its initializer) and embeds one batch per call, so the
caller reports progress and honours a cancel between batches. onnxruntime would release
the GIL, but tokenising and pooling would not, and a process also keeps the model's memory
and threads apart from the server's sockets.

A worker killed mid-batch (out of memory) breaks its executor for good: the pool replaces it
at once and raises :class:`~productdemo.services.documents.workers.WorkerCrashed`, so the
document processor counts the attempt and tries the document again, as it does for a dead
extraction process (docs/guarantees.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from productdemo.services.documents.workers import WorkerCrashed, exit_with
from productdemo.services.retrieval.embedder import Embedder, ModelName, Vectors, load_embedder

# --- in the worker process ---------------------------------------------------------------

_embedder: Embedder | None = None


#: Niceness of the workers where SCHED_IDLE is missing: embedding is background work, and
#: where the workers share a core with the server (a container with one CPU, taskset) sockets
#: must still be answered first. bench/responsiveness.py (server pinned to one core), ping p99
#: while 50 documents were embedded: 965 ms at nice 0, 385 ms at 10, 41-166 ms at 19.
NICENESS = 19


def _background() -> None:
    """Put every thread of this process behind the server's: SCHED_IDLE, or nice 19 without it.

    On Linux nice and the policy belong to each thread, not to the process: ``os.nice`` in
    the main thread left the thread OpenBLAS starts when numpy is imported (before this
    runs) at nice 0. So each thread in /proc/self/task is changed; threads started later
    (onnxruntime's) inherit it from the main thread. SCHED_IDLE rather than nice 19: a nice
    19 thread keeps the core until its slice ends when the server wakes up, a SCHED_IDLE one
    is preempted at once (docs/performance.md, "Responsiveness while 50 documents are embedded").
    """
    threads = [int(t) for t in os.listdir("/proc/self/task")] if os.path.isdir("/proc/self/task") else [0]
    for tid in threads:
        try:
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        except (AttributeError, OSError):  # not Linux, or the thread has just ended
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, NICENESS)


def _init(model: ModelName, threads: int, server_pid: int) -> None:
    global _embedder
    _background()
    _embedder = load_embedder(model, threads)
    threading.Thread(target=exit_with, args=(server_pid,), name="server-watch", daemon=True).start()


def _embed(texts: list[str]) -> bytes:
    assert _embedder is not None
    return _embedder.embed(texts).tobytes()


# --- in the server -----------------------------------------------------------------------


class EmbeddingPool:
    """``workers`` processes embedding batches of texts with model ``model``."""

    def __init__(self, model: ModelName, workers: int, threads: int) -> None:
        self._model = model
        self._workers = workers
        self._threads = threads
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        self._pool = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # forkserver: forking the threaded server process itself is unsafe.
        return ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_init,
            initargs=(self._model, self._threads, os.getpid()),
        )

    async def embed(self, texts: list[str], dim: int) -> Vectors:
        """``texts`` embedded in a worker: one unit-length ``dim``-wide row per text."""
        pool = self._pool
        assert pool is not None, "start() first"
        try:
            data = await asyncio.wrap_future(pool.submit(_embed, texts))
        except BrokenProcessPool:
            if self._pool is pool:  # the first job to see the breakage replaces the executor
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_executor()
            raise WorkerCrashed("the embedding process stopped unexpectedly") from None
        return np.frombuffer(data, np.float32).reshape(len(texts), dim)

    async def close(self) -> None:
        """Stop the workers without blocking the event loop meanwhile."""
        if self._pool is not None:
            await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
