# ruff: noqa: T201
"""Presence under churn: N connected users, C connects + C disconnects per second, S watchers.

One fresh ProductDemo server on CPU 0 (``setup_sessions.py`` users, in-process broker);
this script on CPU 1. It opens N users' sockets, then S more users subscribe to
``presence:app`` and read its ``presence_state``. For ``--window`` seconds it closes C
random connected sockets and opens C sockets of users not connected, every second, in
ten steps of C/10. Meanwhile the watchers count the ``presence_diff`` frames they get and
their sizes. Reported: the server's CPU (all threads, schedstat) during the window and
during an idle window of the same length before it (same sockets, no churn), the frames
per second sent to the watchers, and the diff size (bytes, joins and leaves per diff).

Usage (from the repository root):
  .venv/bin/python bench/presence_churn.py [-n 10000] [--churn 100] [--watchers 100] [--window 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import raise_nofile, start_server, stop, wait_port
from wsclient import WebSocket, cpu_sched_s


class Watcher:
    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.counting = False
        self.has_state = asyncio.Event()
        self.sizes: list[int] = []
        self.joins: list[int] = []
        self.leaves: list[int] = []

    async def run(self) -> None:
        while True:
            opcode, payload = await self.ws.recv()
            if opcode != 1:
                continue
            if not self.has_state.is_set() and b'"presence_state"' in payload[:40]:
                self.has_state.set()
            if not self.counting:
                continue
            frame = json.loads(payload)
            if frame["type"] == "presence_diff":
                self.sizes.append(len(payload))
                self.joins.append(len(frame["payload"]["joins"]))
                self.leaves.append(len(frame["payload"]["leaves"]))


async def drain(ws: WebSocket) -> None:
    """Read (and drop) whatever a churning socket receives, answering pings."""
    try:
        while True:
            await ws.recv()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        return


async def open_many(port: int, cookies: list[str], parallel: int = 50) -> list[WebSocket]:
    sockets: list[WebSocket] = []
    queue = list(cookies)

    async def worker() -> None:
        while queue:
            ws = await WebSocket.connect(port, queue.pop())
            await ws.recv_json()  # hello
            sockets.append(ws)

    await asyncio.gather(*(worker() for _ in range(parallel)))
    return sockets


async def measure(port: int, pid: int, sessions: dict[str, object], args: argparse.Namespace) -> None:
    users = [u["cookie"] for u in sessions["users"]]  # type: ignore[index]
    watcher_cookies, pool = users[: args.watchers], users[args.watchers :]
    connected_cookies = pool[: args.n]
    spare = pool[args.n :]
    t0 = time.perf_counter()
    sockets = dict(zip(connected_cookies, await open_many(port, connected_cookies), strict=True))
    drains = [asyncio.create_task(drain(ws)) for ws in sockets.values()]
    print(f"{len(sockets)} sockets open in {time.perf_counter() - t0:.1f} s", flush=True)
    watchers = []
    for ws in await open_many(port, watcher_cookies, 10):
        ws.send({"type": "subscribe", "id": "p", "payload": {"topic": "presence:app"}})
        watchers.append(Watcher(ws))
    readers = [asyncio.create_task(w.run()) for w in watchers]
    # Every watcher has its state (10,000 users each), and the joins of the opening settled.
    await asyncio.wait_for(asyncio.gather(*(w.has_state.wait() for w in watchers)), 120)
    await asyncio.sleep(5)

    cpu0 = cpu_sched_s(pid)
    await asyncio.sleep(args.window)
    idle_cpu = (cpu_sched_s(pid) - cpu0) / args.window

    for w in watchers:
        w.counting = True
    step = args.churn // 10
    cpu0, start = cpu_sched_s(pid), time.monotonic()
    opened = closed = 0
    opening: list[asyncio.Task[None]] = []

    async def open_one(cookie: str) -> None:
        # Opened in the background, so a slow handshake does not slow the churn down.
        nonlocal opened
        ws = await WebSocket.connect(port, cookie)
        await ws.recv_json()
        sockets[cookie] = ws
        drains.append(asyncio.create_task(drain(ws)))
        opened += 1

    while time.monotonic() - start < args.window:
        tick = time.monotonic()
        for cookie in random.sample(list(sockets), min(step, len(sockets))):
            sockets.pop(cookie).close()
            spare.append(cookie)
            closed += 1
        random.shuffle(spare)
        fresh, spare[:] = spare[:step], spare[step:]
        for cookie in fresh:
            opening.append(asyncio.create_task(open_one(cookie)))
        await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
    await asyncio.gather(*opening)
    elapsed = time.monotonic() - start
    churn_cpu = (cpu_sched_s(pid) - cpu0) / elapsed
    for w in watchers:
        w.counting = False

    sizes = [s for w in watchers for s in w.sizes]
    joins = [j for w in watchers for j in w.joins]
    leaves = [x for w in watchers for x in w.leaves]
    print(
        f"connected {len(sockets)}; churn {opened / elapsed:.0f} connects/s, {closed / elapsed:.0f} closes/s"
    )
    print(f"server CPU: idle {idle_cpu * 100:.1f} % of a core, churning {churn_cpu * 100:.1f} %")
    print(
        f"presence_diff frames to {len(watchers)} watchers: {len(sizes) / elapsed:.0f}/s "
        f"({len(sizes) / elapsed / len(watchers):.1f}/s each)"
    )
    if sizes:
        print(
            f"diff size: median {statistics.median(sizes):.0f} B, max {max(sizes)} B; "
            f"joins median {statistics.median(joins):.0f}, leaves median {statistics.median(leaves):.0f}"
        )
    for task in drains + readers:
        task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--churn", type=int, default=100)
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--window", type=float, default=20)
    parser.add_argument("--port", type=int, default=18561)
    args = parser.parse_args()
    raise_nofile()
    workdir = Path(tempfile.mkdtemp(prefix="pd-presence-"))
    spares = max(args.n // 10, args.churn * 5)
    proc, shown = start_server("productdemo", args.port, args.n + args.watchers + spares, workdir)
    print(" ".join(shown), flush=True)
    try:
        if not wait_port(args.port):
            sys.exit("server did not start")
        sessions = json.loads((workdir / "sessions.json").read_text())
        asyncio.run(measure(args.port, proc.pid, sessions, args))
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
