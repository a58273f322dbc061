# ruff: noqa: T201
"""The leader's work per tick, in process: summarise N tabs, merge the parts, diff both views.

No sockets and no server: this isolates what presence itself costs per tick (the churn
benchmark, ``presence_churn.py``, measures it inside a whole server). Each repetition
moves ``--churn`` users out and others in, then times ``part_of`` + ``merge`` + ``diff``.

Usage: .venv/bin/python bench/presence_merge.py [-n 10000] [--churn 25] [--reps 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

from productdemo.services.presence.model import Tab, diff, merge, part_of


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--churn", type=int, default=25)
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args()
    tabs = {f"c{i}": Tab(i, f"user{i}") for i in range(args.n)}
    public, admin = merge({"a": part_of(tabs)})
    next_user = args.n
    times = []
    for rep in range(args.reps):
        for i in range(args.churn):
            tabs.pop(f"c{rep * args.churn + i}")
            tabs[f"n{next_user}"] = Tab(next_user, f"user{next_user}")
            next_user += 1
        t0 = time.perf_counter()
        new_public, new_admin = merge({"a": part_of(tabs)})
        diff(public, new_public)
        diff(admin, new_admin)
        times.append((time.perf_counter() - t0) * 1000)
        public, admin = new_public, new_admin
    print(
        f"{args.n} users, {args.churn} in + {args.churn} out per tick: part_of + merge + diff "
        f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms ({args.reps} ticks)"
    )


if __name__ == "__main__":
    main()
