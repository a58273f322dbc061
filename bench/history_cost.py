"""In-process cost of history on the publish path: the hub's fan-out with history on and off.

Builds a Hub over the in-process broker with N connections whose transport only counts
writes (no sockets, no HTTP), publishes K broadcasts, and prints server-side µs per
delivered message with history_size=1000 and with history_size=0, interleaved, and their
ratio. It isolates what the end-to-end fan-out benchmark cannot: that run's wall clock
and CPU also carry the HTTP triggers and the kernel's socket work.

Usage: .venv/bin/python bench/history_cost.py [-n 5000] [-k 200] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from productdemo.config import RealtimeSettings
from productdemo.realtime.broker import MemoryBroker
from productdemo.realtime.connection import Principal
from productdemo.realtime.history import MemoryHistory
from productdemo.realtime.hub import Hub
from productdemo.services.notifications.events import Notification


class CountingTransport:
    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> bool:
        self.writes += 1
        return True

    def writable_now(self) -> bool:
        return True

    def close_now(self, code: int, reason: str = "") -> None:
        return None


async def per_message_us(history_size: int, n: int, k: int) -> float:
    broker = MemoryBroker(MemoryHistory(history_size, 600))
    hub = Hub(broker, RealtimeSettings())
    for i in range(n):
        conn = hub.new_connection(Principal(i, f"u{i}", "user", f"s{i}"), CountingTransport())
        hub.registry.add(conn)
        hub.registry.join(conn, "all")
    event = Notification(message="x" * 60, sender="admin", created_at="2026-11-26T00:00:00.000+00:00")
    started = time.perf_counter()
    for _ in range(k):
        await broker.to_all(event)
        hub._flush()
    return (time.perf_counter() - started) / (n * k) * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("-k", type=int, default=200)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    on, off = [], []
    for _ in range(args.reps):
        on.append(await per_message_us(1000, args.n, args.k))
        off.append(await per_message_us(0, args.n, args.k))
    m_on, m_off = statistics.median(on), statistics.median(off)
    cost = 100 * (m_on / m_off - 1)
    sys.stdout.write(f"N={args.n} K={args.k} reps={args.reps}: ")
    sys.stdout.write(f"history on {m_on:.2f} µs/msg [{min(on):.2f}–{max(on):.2f}], ")
    sys.stdout.write(f"off {m_off:.2f} [{min(off):.2f}–{max(off):.2f}]; cost {cost:+.1f}%\n")


if __name__ == "__main__":
    asyncio.run(main())
