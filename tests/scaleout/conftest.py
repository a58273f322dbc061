"""Fixtures for the scale-out tests: a database, a Redis key prefix and instances per module.

Each module gets a fresh PostgreSQL database ``pdscale_<uuid>`` and a Redis key prefix
``pdscale:<uuid>``; both are removed afterwards (the prefix's keys by SCAN + DEL, never
FLUSHDB: the Redis server is shared). A module that stops Redis overrides ``broker_url``
with the URL of ``private_redis``, a Redis server of its own.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.conftest import skip_or_fail
from tests.scaleout.cluster import Cluster, PrivateRedis, Tabs

PG_HOST = os.environ.get("PRODUCTDEMO_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PRODUCTDEMO_TEST_PG_PORT", "5432"))
REDIS_URL = os.environ.get("PRODUCTDEMO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _admin_connection() -> asyncpg.Connection:
    return await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres", timeout=3)


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for the module; yields its SQLAlchemy URL."""
    name = f"pdscale_{uuid.uuid4().hex}"
    try:
        conn = await _admin_connection()
    except (OSError, asyncpg.PostgresError) as exc:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} ({exc})")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        conn = await _admin_connection()
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            await conn.close()


@pytest.fixture(scope="module")
async def private_redis(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PrivateRedis]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        skip_or_fail("redis-server and redis-cli are needed to start a private Redis")
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="module")
async def db(database: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the module's database, to look at claims and chunks."""
    conn = await asyncpg.connect(database.replace("postgresql+asyncpg", "postgresql"), timeout=3)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def broker_url() -> str:
    """The shared Redis server (modules that stop Redis override this with their own)."""
    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        skip_or_fail(f"Redis is not reachable at {REDIS_URL} ({exc})")
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture(scope="module")
async def cluster(
    database: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    """Instances come from ``await cluster.start(n)``; all are stopped after the module."""
    prefix = f"pdscale:{uuid.uuid4().hex}"
    made = Cluster(tmp_path_factory.mktemp("scaleout"), database, broker_url, prefix)
    try:
        yield made
    finally:
        await made.close()
        client = aioredis.from_url(broker_url, socket_connect_timeout=1)
        try:
            keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
            if keys:
                await client.delete(*keys)
        except (OSError, RedisError):
            pass  # a private server that is already gone kept nothing
        finally:
            await client.aclose()


@pytest.fixture
async def tabs() -> AsyncIterator[Tabs]:
    """Sockets opened by one test; all are closed when it ends."""
    opened = Tabs()
    try:
        yield opened
    finally:
        await opened.close()
