# ruff: noqa: T201
"""Where an idle socket's memory goes, and how long the garbage collector stops the server.

``heap``: the server runs under ``tracemalloc``; a snapshot is taken before and after
``driver.py`` opens N idle sockets, and the allocations still alive are printed per line of
code, in KiB per socket (issue 14's idle figure).

``gc``: the server times every garbage collection (``gc.callbacks``) and prints, for the
driver's run only, the count and the milliseconds per generation and the longest pause,
during ``--scenario handshake`` or ``--scenario openloop`` (the latter under
``burst_serve.py``).

Usage (from the repository root, app in .venv, driver in .venv-bench):
  .venv/bin/python bench/server_internals.py heap -n 1000
  .venv/bin/python bench/server_internals.py gc --scenario handshake -n 5000
  .venv/bin/python bench/server_internals.py gc --scenario openloop -n 1000 --rate 115000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import FrameType

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (bench/run.py: server start-up and stop)

PORT = 18990


# --- inside the server ------------------------------------------------------------------


def serve_instrumented() -> None:
    """Run ``productdemo serve`` (or burst_serve.py) with the instrument of BENCH_INTERNALS."""
    mode, report = os.environ["BENCH_INTERNALS"], Path(os.environ["BENCH_INTERNALS_REPORT"])
    if mode == "heap":
        tracemalloc.start(1)
        before: list[tracemalloc.Snapshot] = []

        def mark(_sig: int, _frame: FrameType | None) -> None:
            before.append(tracemalloc.take_snapshot())

        def compare(_sig: int, _frame: FrameType | None) -> None:
            after = tracemalloc.take_snapshot()
            stats = after.compare_to(before[-1], "lineno")
            rows = [(s.size_diff, s.count_diff, str(s.traceback[0])) for s in stats if s.size_diff > 0]
            report.write_text(json.dumps(rows[:60]))

        signal.signal(signal.SIGUSR1, mark)
        signal.signal(signal.SIGUSR2, compare)
    else:
        pauses: list[tuple[float, int, float]] = []
        started = [0.0]

        def timed(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pauses.append((time.time(), info["generation"], time.perf_counter() - started[0]))

        def dump(_sig: int, _frame: FrameType | None) -> None:
            report.write_text(json.dumps(pauses))

        gc.callbacks.append(timed)
        signal.signal(signal.SIGUSR2, dump)
    script = os.environ.get("BENCH_INTERNALS_SCRIPT")
    sys.argv = [script or "productdemo", "serve"]
    if script:
        runpy.run_path(script, run_name="__main__")
    else:
        from productdemo.cli import main

        sys.exit(main())


# --- outside: start, drive, collect ----------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["heap", "gc"])
    ap.add_argument("-n", type=int, default=1000, help="sockets")
    ap.add_argument("--scenario", choices=["handshake", "openloop"], default="handshake", help="gc mode")
    ap.add_argument("--rate", type=float, default=100_000, help="openloop: offered deliveries per second")
    a = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="pd-internals-"))
    report = workdir / "report.json"
    env = {"BENCH_INTERNALS": a.mode, "BENCH_INTERNALS_REPORT": str(report)}
    burst = a.mode == "gc" and a.scenario == "openloop"
    if burst:
        env["BENCH_INTERNALS_SCRIPT"] = str(BENCH / "burst_serve.py")
    os.environ.update(env)
    argv = [str(run.APP_PY), str(Path(__file__).resolve()), "--serve-instrumented"]
    proc, _ = run.start_server("productdemo", PORT, a.n, workdir, server_argv=argv)
    try:
        if not run.wait_port(PORT, 240) or (burst and not run.wait_port(PORT + 1000, 60)):
            raise SystemExit("server did not start: " + (workdir / "server.log").read_text()[-500:])
        time.sleep(2)
        scenario = "idle" if a.mode == "heap" else a.scenario
        cmd = [
            "taskset", "-c", "1", str(run.BENCH_PY), str(BENCH / "driver.py"),
            "--target", "productdemo", "--port", str(PORT), "--server-pid", str(proc.pid),
            "--scenario", scenario, "-n", str(a.n), "--sessions", str(workdir / "sessions.json"),
        ]  # fmt: skip
        if burst:
            cmd += ["--trigger", "burst", "--rate", str(a.rate), "--duration", "8"]
        if a.mode == "heap":
            # tracemalloc slows the server: generous deadlines, and the sockets held open
            # (--idle-wait) until the second snapshot has been written.
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(5)
            cmd += ["--handshake-timeout", "120", "--idle-wait", "150"]
            driver = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            time.sleep(60)
            os.kill(proc.pid, signal.SIGUSR2)
            while not report.exists() and driver.poll() is None:
                time.sleep(1)
            time.sleep(2)
            driver.kill()
            rows = json.loads(report.read_text())
            print(f"Python allocations still alive after opening {a.n} sockets, per socket:")
            for size, count, where in rows[:40]:
                print(f"{size / 1024 / a.n:7.3f} KiB {count / a.n:6.2f} blocks  {where}")
            return
        start = time.time()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout.strip().splitlines()
        end = time.time()
        os.kill(proc.pid, signal.SIGUSR2)
        while not report.exists():
            time.sleep(0.2)
        time.sleep(0.5)
        pauses = [(t, g, d) for t, g, d in json.loads(report.read_text()) if start <= t <= end]
        print(out[-1] if out else "driver printed nothing")
        for gen in (0, 1, 2):
            mine = [d for _, g, d in pauses if g == gen]
            longest = max(mine, default=0) * 1e3
            print(f"gen{gen}: {len(mine)} collections, {sum(mine) * 1e3:.0f} ms, longest {longest:.1f} ms")
    finally:
        run.stop(proc)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-instrumented"]:
        serve_instrumented()
    else:
        main()
