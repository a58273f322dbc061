# ruff: noqa: T201
"""Run ProductDemo's WebSocket benchmarks beside the raw `websockets` peer and print ratios.

For each repetition, each scenario, each target (interleaved): start a fresh server pinned
to CPU 0 (``taskset -c 0``), run ``driver.py`` pinned to CPU 1, stop the server (SIGTERM to
its process group, SIGKILL after 10 s). ProductDemo gets a fresh data directory under
/tmp and its accounts and sessions from ``setup_sessions.py`` before it starts.

Targets: ``websockets`` (../shared/bench/peers/ws_websockets.py), ``picows``
(../shared/bench/peers/ws_picows.py), ``fastapi-sansio``
(../shared/bench/peers/fastapi_app.py on .venv-bench's uvicorn ``--ws websockets-sansio``,
no authentication: the issue's "uvicorn's bare sansio server", run for idle and handshake),
``productdemo`` (history on, the default ``history_size``), ``productdemo-nohistory``
(``history_size=0``), ``productdemo-burst`` (the app under ``bench/burst_serve.py``: the peers'
one-request trigger, K events published and stamped inside the server).

The ``burst*`` scenarios give every target the same contract (one trigger, stamped at
publish); the ``open*`` ones offer a fixed rate, a fraction of the ``websockets`` peer's
median burst rate measured earlier in the same run, and report latency at that rate.

Usage (from the repository root):
  .venv-bench/bin/python bench/run.py                      # everything, 3 repetitions
  .venv-bench/bin/python bench/run.py --scenarios fanout1000x100 --reps 1
  .venv-bench/bin/python bench/run.py --summarize bench/results/<file>.jsonl

JSON lines go to bench/results/ (git-ignored); the table goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SHARED = Path(os.environ.get("SHARED_BENCH", ROOT.parent / "shared" / "bench"))
APP_PY = Path(os.environ.get("APP_VENV", ROOT / ".venv")) / "bin" / "python"
BENCH_PY = Path(os.environ.get("BENCH_VENV", ROOT / ".venv-bench")) / "bin" / "python"
SECRET = "bench-secret-key-not-for-production-0123456789"

SCENARIOS: dict[str, tuple[list[str], list[str]]] = {
    # name: (driver arguments, targets)
    "fanout1000x100": (
        ["--scenario", "fanout", "-n", "1000", "-k", "100"],
        ["websockets", "productdemo", "productdemo-nohistory"],
    ),
    "fanout5000x20": (
        ["--scenario", "fanout", "-n", "5000", "-k", "20"],
        ["websockets", "productdemo", "productdemo-nohistory"],
    ),
    "idle10000": (["--scenario", "idle", "-n", "10000"], ["websockets", "fastapi-sansio", "productdemo"]),
    "handshake5000": (
        ["--scenario", "handshake", "-n", "5000", "--concurrency", "200"],
        ["websockets", "fastapi-sansio", "productdemo"],
    ),
    # The peers' contract for everyone: one trigger, K events stamped inside the server.
    "burst1000x100": (
        ["--scenario", "fanout", "-n", "1000", "-k", "100"],
        ["websockets", "picows", "productdemo-burst"],
    ),
    "burst5000x20": (
        ["--scenario", "fanout", "-n", "5000", "-k", "20"],
        ["websockets", "picows", "productdemo-burst"],
    ),
    # Open loop at 25/50/75 % of websockets' burst rate for the same N (see OPEN_LOOP).
    **{
        f"open{n}@{pct}": (
            ["--scenario", "openloop", "-n", str(n), "--duration", "8"],
            ["websockets", "picows", "productdemo-burst"],
        )
        for n in (1000, 5000)
        for pct in (25, 50, 75)
    },
    # Not part of the targets; each message is one HTTP POST (userId) for ours.
    "targeted1000x5": (["--scenario", "targeted", "-n", "1000", "-k", "5"], ["websockets", "productdemo"]),
}
# Issue 14's run A. The fanout* scenarios (one authenticated POST per message) stay available.
DEFAULT_SCENARIOS = ["burst1000x100", "burst5000x20", "idle10000", "handshake5000"]
PEERS = ("websockets", "picows", "fastapi-sansio")
TRIGGERED_PEERS = {"websockets": "ws_websockets.py", "picows": "ws_picows.py"}
# open<N>@<pct> offers pct % of websockets' median msg/s in this burst scenario.
OPEN_LOOP_BASE = {"1000": "burst1000x100", "5000": "burst5000x20"}


def uvicorn_cmd(app: str, port: int, ws: str) -> list[str]:
    """As ``uvicorn(...)`` in ../shared/bench/run_matrix.py."""
    return [
        str(BENCH_PY.parent / "uvicorn"),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--ws",
        ws,
        "--no-access-log",
        "--log-level",
        "warning",
        "--backlog",
        "4096",
    ]


def raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wait_port(port: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def n_of(driver_args: list[str]) -> int:
    return int(driver_args[driver_args.index("-n") + 1])


def start_server(
    target: str,
    port: int,
    n: int,
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    server_argv: list[str] | None = None,
) -> tuple[subprocess.Popen[bytes], list[str]]:
    """Start ``target`` on CPU 0; for ProductDemo first create ``n`` users with one session each.

    ``extra_env`` adds or overrides ``PRODUCTDEMO_*`` settings and ``server_argv`` replaces
    ``productdemo serve`` (other bench scripts use them).
    """
    log = open(workdir / "server.log", "wb")  # closed when the server stops
    if target in PEERS:
        if target in TRIGGERED_PEERS:
            script = SHARED / "peers" / TRIGGERED_PEERS[target]
            cmd = ["taskset", "-c", "0", str(BENCH_PY), str(script), str(port)]
            env = dict(os.environ)
        else:
            cmd = ["taskset", "-c", "0", *uvicorn_cmd("fastapi_app:app", port, "websockets-sansio")]
            env = dict(os.environ, PYTHONPATH=str(SHARED / "peers"), ENCODE="each")
        proc = subprocess.Popen(
            cmd,
            cwd=SHARED / "peers",
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=raise_nofile,
        )
        return proc, cmd
    env = dict(
        os.environ,
        PRODUCTDEMO_SERVER_PORT=str(port),
        PRODUCTDEMO_STORAGE_DATA_DIR=str(workdir),
        PRODUCTDEMO_SECURITY_SECRET_KEY=SECRET,
    )
    if target == "productdemo-nohistory":
        env["PRODUCTDEMO_REALTIME_HISTORY_SIZE"] = "0"
    if target == "productdemo-burst":
        server_argv = [str(APP_PY), str(BENCH / "burst_serve.py"), "serve"]
    env.update(extra_env or {})
    subprocess.run(
        [str(APP_PY), str(BENCH / "setup_sessions.py"), str(workdir), str(n), str(workdir / "sessions.json")],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )
    cmd = ["taskset", "-c", "0", *(server_argv or [str(APP_PY.parent / "productdemo"), "serve"])]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=raise_nofile,
    )
    shown = [f"{k}={v}" for k, v in env.items() if k.startswith("PRODUCTDEMO_")] + cmd
    return proc, shown


def run_one(
    scenario: str, target: str, port: int, rep: int, timeout: float, extra: list[str] | None = None
) -> dict[str, object]:
    driver_args = SCENARIOS[scenario][0] + (extra or [])
    workdir = Path(tempfile.mkdtemp(prefix=f"pd-bench-{target}-"))
    rec: dict[str, object] = {"scenario": scenario, "target": target, "rep": rep}
    proc = None
    try:
        proc, server_cmd = start_server(target, port, n_of(driver_args), workdir)
        rec["server_cmd"] = " ".join(server_cmd)
        triggered = target in TRIGGERED_PEERS or target == "productdemo-burst"
        ready = wait_port(port) and (not triggered or wait_port(port + 1000))
        if not ready:
            rec["error"] = "server did not start: " + (workdir / "server.log").read_text()[-500:]
            return rec
        time.sleep(1.0)
        cmd = [
            "taskset",
            "-c",
            "1",
            str(BENCH_PY),
            str(BENCH / "driver.py"),
            "--target",
            "websockets" if target in TRIGGERED_PEERS else "peer" if target in PEERS else "productdemo",
            "--port",
            str(port),
            "--server-pid",
            str(proc.pid),
            "--timeout",
            str(timeout),
            *driver_args,
        ]
        if target not in PEERS:
            cmd += ["--sessions", str(workdir / "sessions.json")]
        if target == "productdemo-burst":
            cmd += ["--trigger", "burst"]
        rec["cmd"] = " ".join(cmd)
        rec["loadavg_before"] = os.getloadavg()[0]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 3 + 120)
            line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
            result = json.loads(line) if line.startswith("{") else {"error": out.stderr[-1000:]}
            # The driver names its own scenario and target ("fanout", "productdemo"): keep ours.
            rec.update({k: v for k, v in result.items() if k not in ("scenario", "target")})
        except subprocess.TimeoutExpired:
            rec["error"] = "driver timed out"
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    return rec


# --- summary -------------------------------------------------------------------------------

# (scenario, metric, label, target for the ratio or absolute value, kind)
CHECKS = [
    ("fanout1000x100", "msg_per_s", "fan-out 1000x100 msg/s", 1.5, "ratio>="),
    ("fanout1000x100", "lat_p99_ms", "fan-out 1000x100 p99 ms", 1.0, "ratio<="),
    ("fanout1000x100", "server_cpu_us_per_msg", "fan-out 1000x100 server µs/msg", None, ""),
    ("fanout5000x20", "msg_per_s", "fan-out 5000x20 msg/s", 1.5, "ratio>="),
    ("fanout5000x20", "lat_p99_ms", "fan-out 5000x20 p99 ms", 1.0, "ratio<="),
    ("fanout5000x20", "server_cpu_us_per_msg", "fan-out 5000x20 server µs/msg", None, ""),
    # Issue 14: idle memory and authenticated upgrades against websockets' (unauthenticated).
    ("idle10000", "kib_per_conn", "idle 10k KiB/conn", 1.0, "ratio<="),
    ("handshake5000", "conn_per_s", "upgrades/s (5k, 200 in flight)", 1.0, "ratio>="),
    ("handshake5000", "server_cpu_us_per_conn", "server µs/upgrade", None, ""),
    ("targeted1000x5", "msg_per_s", "targeted 1000x5 msg/s", None, ""),
    ("targeted1000x5", "lat_p50_ms", "targeted 1000x5 p50 ms", None, ""),
]


# The handshake and idle targets, relative to bare uvicorn sansio measured in the same
# run: (scenario, metric, label, (comparison, ratio) or None).
SANSIO_CHECKS = [
    ("idle10000", "kib_per_conn", "idle 10k KiB/conn", ("<=", 1.0)),
    ("handshake5000", "conn_per_s", "upgrades/s (5k, 200 in flight)", (">=", 1.0)),
    ("handshake5000", "server_cpu_us_per_conn", "server µs/upgrade", None),
    ("handshake5000", "hs_p99_ms", "upgrade p99 ms", None),
]


def fmt(values: list[float]) -> str:
    if not values:
        return "–"
    med = statistics.median(values)
    digits = 0 if med >= 100 else 1 if med >= 10 else 2
    if len(values) == 1:
        return f"{med:,.{digits}f}"
    return f"{med:,.{digits}f} [{min(values):,.{digits}f}–{max(values):,.{digits}f}]"


def values(recs: list[dict[str, object]], scenario: str, target: str, metric: str) -> list[float]:
    out = []
    for r in recs:
        if r.get("scenario") == scenario and r.get("target") == target and r.get(metric) is not None:
            if r.get("complete") is False or r.get("error"):
                continue
            out.append(float(r[metric]))  # type: ignore[arg-type]
    return out


def summarize(recs: list[dict[str, object]]) -> str:
    rows = [
        "| metric | websockets | ProductDemo | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    sansio_rows = [
        "| metric | uvicorn sansio (bare) | ProductDemo | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for scenario, metric, label, goal in SANSIO_CHECKS:
        base = values(recs, scenario, "fastapi-sansio", metric)
        pd = values(recs, scenario, "productdemo", metric)
        if not base or not pd:
            continue
        ratio = statistics.median(pd) / statistics.median(base)
        met = ""
        want = ""
        if goal is not None:
            want = f"{'≥' if goal[0] == '>=' else '≤'} {goal[1]}×"
            met = "yes" if (ratio >= goal[1] if goal[0] == ">=" else ratio <= goal[1]) else "**no**"
        sansio_rows.append(f"| {label} | {fmt(base)} | {fmt(pd)} | {ratio:.2f}× | {want} | {met} |")
    for scenario, metric, label, goal, kind in CHECKS:
        ws = values(recs, scenario, "websockets", metric)
        pd = values(recs, scenario, "productdemo", metric)
        if not pd and not ws:
            continue
        ratio = statistics.median(pd) / statistics.median(ws) if ws and pd else None
        met = ""
        if goal is not None and pd:
            value = ratio if kind.startswith("ratio") else statistics.median(pd)
            if value is not None:
                met = "yes" if (value >= goal if kind.endswith(">=") else value <= goal) else "**no**"
        want = (
            ""
            if goal is None
            else f"{'≥' if kind.endswith('>=') else '≤'} {goal}{'×' if 'ratio' in kind else ''}"
        )
        shown = "" if ratio is None else f"{ratio:.2f}×"
        rows.append(f"| {label} | {fmt(ws)} | {fmt(pd)} | {shown} | {want} | {met} |")
    for scenario in ("fanout1000x100", "fanout5000x20"):
        on = values(recs, scenario, "productdemo", "msg_per_s")
        off = values(recs, scenario, "productdemo-nohistory", "msg_per_s")
        if on and off:
            cost = 1 - statistics.median(on) / statistics.median(off)
            rows.append(
                f"| history cost, {scenario} (msg/s history_size=0 → default) | {fmt(off)} | {fmt(on)} | "
                f"{cost:+.1%} | ≤ 15% | {'yes' if cost <= 0.15 else '**no**'} |"
            )
    problems = [
        f"{r.get('scenario')}/{r.get('target')}/rep {r.get('rep')}: "
        + str(r.get("error") or f"incomplete, delivered {r.get('delivered')}/{r.get('expected')}")
        for r in recs
        if r.get("error") or r.get("complete") is False or r.get("conn_errors")
    ]
    if len(sansio_rows) > 2:
        rows += ["", *sansio_rows]
    burst_rows = summarize_burst(recs)
    if burst_rows:
        rows += ["", *burst_rows]
    if problems:
        rows += ["", "Runs left out or with connection errors:"] + [f"- {p}" for p in problems]
    loads = [float(r["loadavg_before"]) for r in recs if r.get("loadavg_before") is not None]  # type: ignore[arg-type]
    if loads:
        rows += [
            "",
            f"1-min load avg before each run: median {statistics.median(loads):.2f}, max {max(loads):.2f}",
        ]
    return "\n".join(rows)


def open_loop_rate(scenario: str, recs: list[dict[str, object]]) -> list[str] | None:
    """``--rate`` for an ``open<N>@<pct>`` scenario ([] for others; None if no base yet)."""
    if not scenario.startswith("open"):
        return []
    n, pct = scenario.removeprefix("open").split("@")
    base = values(recs, OPEN_LOOP_BASE[n], "websockets", "msg_per_s")
    if not base:
        return None
    return ["--rate", f"{statistics.median(base) * int(pct) / 100:.0f}"]


def summarize_burst(recs: list[dict[str, object]]) -> list[str]:
    """The peers' contract: burst rate, latency and CPU, then open-loop latency, per target."""
    targets = ("websockets", "picows", "productdemo-burst")
    rows = [
        "| scenario | metric | websockets | picows | ProductDemo | ÷ websockets | ÷ picows |",
        "|---|---|---|---|---|---|---|",
    ]
    metrics = [
        ("msg_per_s", "msg/s"),
        ("lat_p50_ms", "p50 ms"),
        ("lat_p99_ms", "p99 ms"),
        ("lat_max_ms", "max ms"),
        ("server_cpu_us_per_msg", "server µs/msg"),
        ("server_written_ms", "ms to the burst's last write (ours)"),
    ]
    scenarios = ["burst1000x100", "burst5000x20"] + [
        f"open{n}@{p}" for n in (1000, 5000) for p in (25, 50, 75)
    ]
    for scenario in scenarios:
        for metric, label in metrics:
            cols = [values(recs, scenario, t, metric) for t in targets]
            if not cols[2]:
                continue
            ours = statistics.median(cols[2])
            ratios = [f"{ours / statistics.median(c):.2f}×" if c else "–" for c in cols[:2]]
            rows.append(
                f"| {scenario} | {label} | {' | '.join(fmt(c) for c in cols)} | {' | '.join(ratios)} |"
            )
    offered = {
        r["scenario"]: r.get("offered_msg_per_s")
        for r in recs
        if str(r.get("scenario", "")).startswith("open")
    }
    if offered:
        rows += ["", "Offered msg/s: " + ", ".join(f"{k} {v:,.0f}" for k, v in offered.items() if v)]
    return rows if len(rows) > 2 else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS), help=", ".join(SCENARIOS))
    ap.add_argument("--targets", default="", help="restrict targets (comma-separated)")
    ap.add_argument("--port", type=int, default=18600)
    ap.add_argument("--timeout", type=float, default=60, help="max seconds for one measured round")
    ap.add_argument("--out", type=Path, default=None, help="JSON lines (default bench/results/<time>.jsonl)")
    ap.add_argument("--summarize", type=Path, help="only print the table of an earlier results file")
    a = ap.parse_args()
    if a.summarize:
        print(summarize([json.loads(x) for x in a.summarize.read_text().splitlines() if x.strip()]))
        return
    out = a.out or BENCH / "results" / time.strftime("%Y%m%d-%H%M%S.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    only = set(a.targets.split(",")) if a.targets else None
    recs = []
    port = a.port
    t_start = time.monotonic()
    for rep in range(a.reps):
        for scenario in a.scenarios.split(","):
            for target in SCENARIOS[scenario][1]:
                if only and target not in only:
                    continue
                port = port + 1 if port < a.port + 300 else a.port + 1
                t0 = time.monotonic()
                extra = open_loop_rate(scenario, recs)
                if extra is None:
                    print(
                        f"[rep {rep}] {scenario}: no websockets burst rate to offer a share of",
                        file=sys.stderr,
                    )
                    continue
                rec = run_one(scenario, target, port, rep, a.timeout, extra)
                recs.append(rec)
                with out.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                brief = {
                    k: round(v, 2) if isinstance(v, float) else v
                    for k in (
                        "msg_per_s",
                        "lat_p99_ms",
                        "server_cpu_us_per_msg",
                        "kib_per_conn",
                        "conn_per_s",
                        "server_cpu_util",
                        "cpu0_busy_util",
                        "conn_errors",
                        "error",
                    )
                    if (v := rec.get(k)) is not None
                }
                print(
                    f"[rep {rep}] {scenario:15s} {target:22s} {time.monotonic() - t0:5.1f}s {brief}",
                    file=sys.stderr,
                    flush=True,
                )
    print(f"results: {out} ({time.monotonic() - t_start:.0f} s)\n", file=sys.stderr)
    print(summarize(recs))


if __name__ == "__main__":
    main()
