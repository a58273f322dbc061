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


#: Niceness of the workers: embedding is background work, and where the workers share a core
#: with the server (a container with one CPU, taskset) sockets must still be answered first.
#: Measured with bench/responsiveness.py (server pinned to one core): ping p99 while 50
#: documents were embedded 965 ms at nice 0, 385 ms at 10, 41 ms at 19 (docs/performance.md).
NICENESS = 19


def _init(model: ModelName, threads: int, server_pid: int) -> None:
    global _embedder
    os.nice(NICENESS)
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
