# ruff: noqa: T201
"""``GET /api/notifications`` latency with many stored notifications.

One fresh ProductDemo server on CPU 0 (``setup_sessions.py``: an admin and ``--users``
users), its database filled beforehand with ``--total`` notifications: half for everyone
(one row each), half spread over the users, and some read (a ``read_up_to`` mark for
every user, plus single reads). This script, on CPU 1, then asks for the first page
(``limit=20``) and for a page deep in the past (``before=<middle id>``) ``--requests``
times each over one keep-alive connection per user sampled, and prints p50/p99/max.
Each answer includes the user's unread count, so that query is measured too.

Usage (from the repository root):
  .venv/bin/python bench/notifications_list.py [--total 100000] [--users 100] [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from productdemo.config import load_config
from productdemo.storage.database import create_engine
from productdemo.storage.models import NotificationMark, NotificationRead, StoredNotification

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import APP_PY, BENCH, ROOT, SECRET, stop, wait_port
from wsclient import Http


async def fill(workdir: Path, user_ids: list[int], total: int) -> int:
    """Insert ``total`` notifications and some read state; returns the middle id."""
    config = load_config(
        environ={"PRODUCTDEMO_STORAGE_DATA_DIR": str(workdir), "PRODUCTDEMO_SECURITY_SECRET_KEY": SECRET}
    )
    engine = create_engine(config.database_url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            batch = []
            for i in range(total):
                batch.append(
                    {
                        "user_id": None if i % 2 else random.choice(user_ids),
                        "kind": "announcement",
                        "message": f"notification {i}: the weekly maintenance window moves to Thursday",
                        "sender": "admin",
                        "level": "info",
                        "link": None,
                        "created_at": now,
                    }
                )
                if len(batch) == 5000:
                    await conn.execute(insert(StoredNotification), batch)
                    batch = []
            if batch:
                await conn.execute(insert(StoredNotification), batch)
            marks = [{"user_id": u, "read_up_to": total // 4} for u in user_ids]
            await conn.execute(insert(NotificationMark), marks)
            reads = [
                {"user_id": u, "notification_id": n}
                for u in user_ids
                for n in random.sample(range(total // 2, total), 50)
                if n % 2  # notifications for everyone: every user may read them
            ]
            await conn.execute(insert(NotificationRead), reads)
    finally:
        await engine.dispose()
    return total // 2


async def timed(port: int, cookies: list[str], path: str, requests: int) -> list[float]:
    times: list[float] = []
    clients = [Http(port, c) for c in cookies]
    try:
        for i in range(requests):
            http = clients[i % len(clients)]
            t0 = time.perf_counter()
            status, body = await http.request("GET", path)
            times.append((time.perf_counter() - t0) * 1000)
            assert status == 200, (status, body[:200])
    finally:
        for http in clients:
            http.close()
    return times


def report(name: str, times: list[float]) -> None:
    times.sort()
    p99 = times[int(len(times) * 0.99) - 1]
    print(
        f"{name}: p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms, "
        f"max {times[-1]:.1f} ms ({len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--port", type=int, default=18562)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pd-notes-"))
    env = dict(
        os.environ,
        PRODUCTDEMO_SERVER_PORT=str(args.port),
        PRODUCTDEMO_STORAGE_DATA_DIR=str(workdir),
        PRODUCTDEMO_SECURITY_SECRET_KEY=SECRET,
    )
    proc = None
    try:
        setup = [str(APP_PY), str(BENCH / "setup_sessions.py"), str(workdir), str(args.users)]
        subprocess.run([*setup, str(workdir / "sessions.json")], cwd=ROOT, env=env, check=True, timeout=300)
        sessions = json.loads((workdir / "sessions.json").read_text())
        user_ids = [u["id"] for u in sessions["users"]]
        t0 = time.perf_counter()
        middle = asyncio.run(fill(workdir, user_ids, args.total))
        print(f"{args.total} notifications stored in {time.perf_counter() - t0:.1f} s", flush=True)
        cmd = ["taskset", "-c", "0", str(APP_PY.parent / "productdemo"), "serve"]
        log = open(workdir / "server.log", "wb")  # closed when the process exits
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if not wait_port(args.port):
            sys.exit("server did not start")
        cookies = [u["cookie"] for u in sessions["users"][:10]]
        asyncio.run(timed(args.port, cookies, "/api/notifications?limit=20", 50))  # warm-up
        first = "/api/notifications?limit=20"
        report("first page", asyncio.run(timed(args.port, cookies, first, args.requests)))
        deep = f"/api/notifications?before={middle}&limit=20"
        report("deep page", asyncio.run(timed(args.port, cookies, deep, args.requests)))
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
