"""Cost of the session backstop: one revalidation of every cached session against PostgreSQL.

Creates N sessions in a fresh PostgreSQL database, preloads them into a SessionStore as an
instance does at start-up, and times ``revalidate()`` (every cached session re-read, in
batches) and ``expire()`` (nothing expired: the common case) a few times. The database is
dropped afterwards.

Usage: .venv/bin/python bench/revalidate.py [-n 10000] [--reps 5]
       [--server postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from productdemo.services.users.sessions import SessionStore, hash_session_id
from productdemo.storage.database import create_engine, create_session_factory, upgrade


async def run(server: str, n: int, reps: int) -> None:
    name = f"pdbench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{server}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{server.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    try:
        await upgrade(url)
        conn = await asyncpg.connect(f"{server}/{name}")
        user_id = await conn.fetchval(
            "INSERT INTO users (username, password_hash, role, disabled)"
            " VALUES ('bench', 'x', 'user', false) RETURNING id"
        )
        now = datetime.now(UTC)
        await conn.executemany(
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            [
                (hash_session_id(secrets.token_urlsafe(32)), user_id, now, now + timedelta(days=14))
                for _ in range(n)
            ],
        )
        await conn.close()
        engine = create_engine(url)
        store = SessionStore(create_session_factory(engine), b"bench", 14 * 86400)
        assert await store.preload() == n
        revalidate, expire = [], []
        for _ in range(reps):
            start = time.perf_counter()
            assert await store.revalidate() == []
            revalidate.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert await store.expire() == []
            expire.append(time.perf_counter() - start)
        await engine.dispose()
        out = sys.stdout.write
        out(f"sessions cached: {n}\n")
        out(f"revalidate(): median {statistics.median(revalidate) * 1000:.1f} ms, ")
        out(f"max {max(revalidate) * 1000:.1f} ms\n")
        out(f"expire() with nothing expired: median {statistics.median(expire) * 1e6:.0f} µs\n")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    asyncio.run(run(args.server, args.n, args.reps))


if __name__ == "__main__":
    main()
