# ruff: noqa: T201
"""The leader's work per tick, in process: merge the parts and diff both views.

No sockets and no server: this isolates what presence itself costs per tick (the churn
benchmark, ``presence_churn.py``, measures it inside a whole server). Each repetition
moves ``--churn`` users out and others in, then times what a tick does with the part:
``Merger.update`` (incremental), and for comparison a full merge from scratch.

Usage: .venv/bin/python bench/presence_merge.py [-n 10000] [--churn 25] [--reps 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

from productdemo.services.presence.model import Merger, Tab, merge, part_of


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--churn", type=int, default=25)
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args()
    tabs = {f"c{i}": Tab(i, f"user{i}") for i in range(args.n)}
    merger = Merger()
    merger.update({"a": part_of(tabs)})
    next_user = args.n
    incremental, full = [], []
    for rep in range(args.reps):
        for i in range(args.churn):
            tabs.pop(f"c{rep * args.churn + i}")
            tabs[f"n{next_user}"] = Tab(next_user, f"user{next_user}")
            next_user += 1
        part = part_of(tabs)  # the service keeps this up to date as tabs come and go
        t0 = time.perf_counter()
        public, _ = merger.update({"a": part})
        incremental.append((time.perf_counter() - t0) * 1000)
        assert len(public[0]) == len(public[1]) == args.churn
        t0 = time.perf_counter()
        merge({"a": part})
        full.append((time.perf_counter() - t0) * 1000)
    for name, times in (("incremental merge + diff", incremental), ("full merge", full)):
        print(
            f"{args.n} users, {args.churn} in + {args.churn} out per tick: {name} "
            f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms ({args.reps} ticks)"
        )


if __name__ == "__main__":
    main()
