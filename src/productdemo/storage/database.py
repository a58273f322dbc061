"""The async engine and session factory, and running migrations at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

T = TypeVar("T")


def create_engine(
    url: str, pool_size: int = 10, max_overflow: int = 20, pool_timeout: float = 30.0
) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL and foreign keys for concurrent readers.

    The pool settings apply to PostgreSQL (``[database] pool_size`` and friends): each instance
    holds at most ``pool_size + max_overflow`` connections, and a checkout waits at most
    ``pool_timeout`` seconds before it fails.
    """
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout, pool_pre_ping=True
    )


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_sync(url: str) -> None:
    """Apply every pending migration (blocking; call before the event loop serves)."""
    command.upgrade(_alembic_config(url), "head")


async def upgrade(url: str) -> None:
    """Apply every pending migration from async code, in a worker thread."""
    await asyncio.to_thread(upgrade_sync, url)


async def to_completion(transaction: Coroutine[Any, Any, T]) -> T:
    """Run ``transaction`` to its end even if the calling task is cancelled meanwhile.

    A task cancelled in the middle of a statement (a lease keeper stopped, a timer cancelled)
    can leave its pooled connection with the transaction open: SQLAlchemy's rollback on the
    way out is itself cancelled, and on SQLite that connection then holds the write lock and
    every other writer fails with "database is locked" (tests/storage/test_database.py).
    Background jobs whose tasks get cancelled run each transaction through here; the
    cancellation is raised once the transaction has finished.
    """
    task = asyncio.ensure_future(transaction)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():
                raise
            cancelled = exc
        except BaseException:
            if cancelled is None:
                raise
            # The caller was cancelled meanwhile: that is what it must see, or a keeper that
            # retries failed transactions would go on after being stopped. The transaction's
            # error stays attached as the cancellation's context.
            raise cancelled  # noqa: B904
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result
