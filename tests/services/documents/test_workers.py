"""services/documents/workers.py: extraction in worker processes, progress and cancellation."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor

import pytest

from productdemo.services.documents.errors import EncryptedDocument
from productdemo.services.documents.sniff import DocumentKind
from productdemo.services.documents.workers import ExtractionPool, PoolUnavailable, WorkerCrashed
from tests import sample_files
from tests.support import MS


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[ExtractionPool]:
    workers = ExtractionPool(1)
    workers.start()
    yield workers
    await workers.close()


async def test_pages_are_reported_while_a_worker_extracts(pool: ExtractionPool) -> None:
    """A worker extracts every page and reports its progress (pages done of total) to the caller."""
    pages = [0, 0]
    parts = await pool.extract(
        sample_files.pdf([f"page {n}" for n in range(20)]), DocumentKind.PDF, None, pages
    )
    assert [p.page for p in parts] == list(range(1, 21))
    # Reports travel on a queue; the last few may land after the result.
    assert pages[1] == 20
    assert 1 <= pages[0] <= 20


async def test_errors_come_back_as_document_errors(pool: ExtractionPool) -> None:
    """An extraction error raised in the worker reaches the caller with its reason."""
    with pytest.raises(EncryptedDocument):
        await pool.extract(sample_files.encrypted_pdf(), DocumentKind.PDF, None, [0, 0])


async def test_cancelling_stops_the_worker_at_the_next_page(pool: ExtractionPool) -> None:
    """Cancelling an extraction frees the only worker within a page or so, not at the end of
    the document (2,000 pages: about 6 s to extract here)."""
    big = sample_files.long_pdf(2000)
    pages = [0, 0]
    job = asyncio.create_task(pool.extract(big, DocumentKind.PDF, None, pages))
    while pages[0] == 0:
        await asyncio.sleep(5 * MS)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    started = asyncio.get_running_loop().time()
    await pool.extract(sample_files.pdf(["after"]), DocumentKind.PDF, None, [0, 0])
    assert asyncio.get_running_loop().time() - started < 1.5


def worker_pids(pool: ExtractionPool) -> list[int]:
    """The pids of the pool's live worker processes."""
    executor = pool._pool
    return [] if executor is None else [p.pid for p in executor._processes.values() if p.pid]


async def kill_worker_midway(pool: ExtractionPool, data: bytes) -> BaseException:
    """Start extracting ``data``, SIGKILL its worker after the first page; the job's error."""
    pages = [0, 0]
    job = asyncio.create_task(pool.extract(data, DocumentKind.PDF, None, pages))
    deadline = asyncio.get_running_loop().time() + 20_000 * MS
    while pages[0] == 0:
        assert asyncio.get_running_loop().time() < deadline and not job.done(), "no page reported"
        await asyncio.sleep(5 * MS)
    for pid in worker_pids(pool):
        os.kill(pid, signal.SIGKILL)
    (error,) = await asyncio.gather(job, return_exceptions=True)
    assert isinstance(error, BaseException), error
    return error


async def test_a_killed_worker_fails_only_its_job_and_the_pool_recovers() -> None:
    """A worker killed mid-extraction (OOM killer, parser crash) fails that job with WorkerCrashed;
    the pool replaces its executor and frees the slot, so it keeps working after more deaths
    than it has slots."""
    pool = ExtractionPool(1)
    pool.start()
    try:
        big = sample_files.long_pdf(2000)
        for _ in range(pool._slots + 1):
            assert isinstance(await kill_worker_midway(pool, big), WorkerCrashed)
        parts = await pool.extract(sample_files.pdf(["still working"]), DocumentKind.PDF, None, [0, 0])
        assert [p.text for p in parts] == ["still working"]
        assert pool.healthy and pool.replaced == pool._slots + 1
    finally:
        await pool.close()


async def test_a_pool_that_cannot_be_replaced_reports_itself_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    """If no new executor can be made after a worker died, the pool says so (readiness shows
    it) and jobs fail fast with PoolUnavailable; once one can be made, it heals."""
    pool = ExtractionPool(1)
    pool.start()
    try:

        def cannot_fork() -> ProcessPoolExecutor:
            raise OSError("Resource temporarily unavailable (injected)")

        monkeypatch.setattr(pool, "_new_executor", cannot_fork)
        assert isinstance(await kill_worker_midway(pool, sample_files.long_pdf(2000)), WorkerCrashed)
        assert not pool.healthy and pool.broken is not None and "injected" in pool.broken
        with pytest.raises(PoolUnavailable):
            await pool.extract(sample_files.pdf(["x"]), DocumentKind.PDF, None, [0, 0])
        monkeypatch.undo()
        parts = await pool.extract(sample_files.pdf(["healed"]), DocumentKind.PDF, None, [0, 0])
        assert [p.text for p in parts] == ["healed"] and pool.healthy
    finally:
        await pool.close()


async def test_closing_the_pool_leaves_the_event_loop_free() -> None:
    """Shutting down while a long extraction runs neither blocks the loop nor waits for the end
    of the document: the worker stops at its next page."""
    pool = ExtractionPool(1)
    pool.start()
    pages = [0, 0]
    job = asyncio.create_task(pool.extract(sample_files.long_pdf(2000), DocumentKind.PDF, None, pages))
    while pages[0] == 0:
        await asyncio.sleep(5 * MS)
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def tick() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(loop.time() - last)
            last = loop.time()

    ticker = asyncio.create_task(tick())
    started = loop.time()
    await pool.close()
    closed_in = loop.time() - started
    ticker.cancel()
    await asyncio.gather(ticker, job, return_exceptions=True)
    assert max(gaps, default=0) < 0.5, max(gaps)
    assert closed_in < 3, closed_in
