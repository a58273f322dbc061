"""The embedding pool survives a dead worker process (issue 15 item 3, for the embedding stage)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from productdemo.services.documents.workers import WorkerCrashed
from productdemo.services.retrieval.embedder import shape_of
from productdemo.services.retrieval.pool import EmbeddingPool


async def test_a_killed_worker_fails_its_batch_and_the_next_batch_runs_on_a_new_executor() -> None:
    _model_id, dim = shape_of("hashing")
    pool = EmbeddingPool("hashing", workers=1, threads=1)
    pool.start()
    try:
        assert (await pool.embed(["warm up"], dim)).shape == (1, dim)
        executor = pool._pool
        assert executor is not None
        for pid in list(executor._processes):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerCrashed):
            for _ in range(50):  # the executor notices the death within a few submissions
                await pool.embed(["after the kill"], dim)
                await asyncio.sleep(0.05)
        vectors = await pool.embed(["a new worker"], dim)
        assert vectors.shape == (1, dim)
        assert pool._pool is not executor
    finally:
        await pool.close()


async def test_close_does_not_block_the_event_loop() -> None:
    _model_id, dim = shape_of("hashing")
    pool = EmbeddingPool("hashing", workers=1, threads=1)
    pool.start()
    await pool.embed(["start the worker"], dim)
    ticks = 0

    async def count() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    counter = asyncio.create_task(count())
    await pool.close()
    counter.cancel()
    assert ticks > 0
