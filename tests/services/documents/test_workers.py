"""services/documents/workers.py: extraction in worker processes, progress and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from productdemo.services.documents.errors import EncryptedDocument
from productdemo.services.documents.sniff import DocumentKind
from productdemo.services.documents.workers import ExtractionPool
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
