"""A transaction whose task is cancelled mid-statement must not keep SQLite's write lock."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.storage.database import create_engine, create_session_factory, to_completion

Renewal = Callable[[async_sessionmaker[AsyncSession]], Awaitable[None]]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/lock.db")
    factory = create_session_factory(engine)
    async with factory() as session:
        await session.execute(text("CREATE TABLE lease (id INTEGER PRIMARY KEY, until INTEGER)"))
        await session.execute(text("INSERT INTO lease VALUES (1, 0)"))
        await session.commit()
    yield factory
    await engine.dispose()


async def _renew(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        await session.execute(text("UPDATE lease SET until = until + 1 WHERE id = 1 RETURNING until"))
        await session.commit()


async def _cancelled_keepers_leave_the_database_writable(
    db: async_sessionmaker[AsyncSession], renew: Renewal
) -> bool:
    """Cancel a renewing keeper at random moments; False once a later write finds the lock held."""

    async def keeper() -> None:
        while True:
            await renew(db)

    rng = random.Random(7)
    for _ in range(60):
        task = asyncio.create_task(keeper())
        await asyncio.sleep(rng.random() * 0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        try:
            async with asyncio.timeout(3):
                await _renew(db)
        except TimeoutError:
            return False
    return True


async def test_transactions_run_to_completion_release_the_lock(db: async_sessionmaker[AsyncSession]) -> None:
    """Keepers cancelled at 60 random moments never leave the lock behind. (Without
    to_completion, passing ``_renew`` itself, a later write was blocked within a few dozen.)"""

    async def renew(factory: async_sessionmaker[AsyncSession]) -> None:
        await to_completion(_renew(factory))

    assert await _cancelled_keepers_leave_the_database_writable(db, renew)


async def test_a_cancellation_is_raised_even_when_the_transaction_then_fails() -> None:
    """A caller cancelled while its transaction runs gets CancelledError, not the transaction's
    own error: a keeper that retries failed renewals must still stop when it is cancelled."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def failing() -> None:
        entered.set()
        await release.wait()
        raise RuntimeError("database is locked")

    task = asyncio.create_task(to_completion(failing()))
    await entered.wait()
    task.cancel()
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError) as raised:
        await task
    assert isinstance(raised.value.__context__, RuntimeError)
