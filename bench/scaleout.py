# ruff: noqa: T201
"""Cross-instance fan-out: two instances sharing PostgreSQL and Redis versus one instance.

Configurations, each on a fresh PostgreSQL database ``pdbench_<random>`` (127.0.0.1:5432,
user postgres; dropped afterwards) and, with Redis, a unique ``PRODUCTDEMO_BROKER_PREFIX``
on redis://127.0.0.1:6379/0 (its keys deleted afterwards; nothing else is touched):

  single-inprocess  one ``productdemo serve``, in-process broker;
  single-redis      one ``productdemo serve``, Redis broker;
  two-redis         instances A and B (distinct ``PRODUCTDEMO_SERVER_INSTANCE_ID``), Redis
                    broker; the publisher (``POST /api/admin/broadcast``) talks to A,
                    even-numbered sockets connect to A and odd ones to B.

With 2 cores, every server runs on CPU 0 (A and B share it) and ``driver.py`` on CPU 1:
two instances get no more CPU than one, so this measures the cost of the Redis hop and of
the second process, not scaling. Server CPU figures add A's and B's.

Scenarios: ``fanout`` N×K (throughput) and ``targeted`` N×1 with one trigger connection
(one POST in flight: a low-rate stream whose p50 latency is the per-hop cost).

Usage (from the repository root):
  .venv-bench/bin/python bench/scaleout.py [--reps 2]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from run import APP_PY, BENCH_PY, ROOT, SECRET, raise_nofile, stop, wait_port  # noqa: E402

PG = [
    "psql",
    "-h",
    "127.0.0.1",
    "-p",
    "5432",
    "-U",
    "postgres",
    "-v",
    "ON_ERROR_STOP=1",
    "-q",
    "-d",
    "postgres",
]
REDIS = ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "-n", "0"]
CONFIGS = ["single-inprocess", "single-redis", "two-redis"]
SCENARIOS = {
    "fanout1000x100": ["--scenario", "fanout", "-n", "1000", "-k", "100"],
    "targeted1000x1": ["--scenario", "targeted", "-n", "1000", "-k", "1", "--trigger-conns", "1"],
}


def serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["taskset", "-c", "0", str(APP_PY.parent / "productdemo"), "serve"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "wb"),  # closed with the process
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=raise_nofile,
    )


def delete_redis_keys(prefix: str) -> int:
    keys = subprocess.run(
        [*REDIS, "--scan", "--pattern", f"{prefix}*"], capture_output=True, text=True, timeout=60
    ).stdout.split()
    for i in range(0, len(keys), 500):
        subprocess.run([*REDIS, "del", *keys[i : i + 500]], capture_output=True, timeout=60, check=True)
    return len(keys)


def run_one(config: str, scenario: str, port: int, rep: int, timeout: float) -> dict[str, object]:
    tag = secrets.token_hex(4)
    db, prefix = f"pdbench_{tag}", f"pdbench_{tag}"
    workdir = Path(tempfile.mkdtemp(prefix=f"pd-bench-scaleout-{config}-"))
    rec: dict[str, object] = {"config": config, "scenario": scenario, "rep": rep, "db": db, "prefix": prefix}
    procs: list[subprocess.Popen[bytes]] = []
    subprocess.run([*PG, "-c", f"CREATE DATABASE {db}"], check=True, timeout=60, capture_output=True)
    try:
        base = dict(
            os.environ,
            PRODUCTDEMO_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}",
            PRODUCTDEMO_SECURITY_SECRET_KEY=SECRET,
            PRODUCTDEMO_STORAGE_DATA_DIR=str(workdir),
        )
        if config != "single-inprocess":
            base.update(PRODUCTDEMO_BROKER_URL="redis://127.0.0.1:6379/0", PRODUCTDEMO_BROKER_PREFIX=prefix)
        n = int(SCENARIOS[scenario][SCENARIOS[scenario].index("-n") + 1])
        subprocess.run(
            [
                str(APP_PY),
                str(BENCH / "setup_sessions.py"),
                str(workdir),
                str(n),
                str(workdir / "sessions.json"),
            ],
            cwd=ROOT,
            env=base,
            check=True,
            timeout=300,
            capture_output=True,
        )
        ports = [port, port + 1] if config == "two-redis" else [port]
        for j, p in enumerate(ports):
            env = dict(
                base, PRODUCTDEMO_SERVER_PORT=str(p), PRODUCTDEMO_SERVER_INSTANCE_ID=f"bench-{'AB'[j]}"
            )
            procs.append(serve(env, workdir / f"server{j}.log"))
        if not all(wait_port(p) for p in ports):
            rec["error"] = "server did not start: " + (workdir / "server0.log").read_text()[-500:]
            return rec
        time.sleep(1.5)
        cmd = [
            "taskset",
            "-c",
            "1",
            str(BENCH_PY),
            str(BENCH / "driver.py"),
            "--target",
            "productdemo",
            "--port",
            str(port),
            "--server-pid",
            str(procs[0].pid),
            "--timeout",
            str(timeout),
            "--sessions",
            str(workdir / "sessions.json"),
            *SCENARIOS[scenario],
        ]
        if len(procs) == 2:
            cmd += ["--split-port", str(port + 1), "--split-pid", str(procs[1].pid)]
        rec["cmd"] = " ".join(cmd)
        rec["loadavg_before"] = os.getloadavg()[0]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 3 + 120)
        line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        result = json.loads(line) if line.startswith("{") else {"error": out.stderr[-1000:]}
        rec.update({k: v for k, v in result.items() if k not in ("scenario", "target")})
    finally:
        for proc in procs:
            stop(proc)
        subprocess.run(
            [*PG, "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], timeout=60, capture_output=True
        )
        if config != "single-inprocess":
            rec["redis_keys_deleted"] = delete_redis_keys(prefix)
        shutil.rmtree(workdir, ignore_errors=True)
    return rec


def fmt(xs: list[float]) -> str:
    if not xs:
        return "–"
    m = statistics.median(xs)
    d = 0 if m >= 100 else 1 if m >= 10 else 2
    return f"{m:,.{d}f}" if len(xs) == 1 else f"{m:,.{d}f} [{min(xs):,.{d}f}–{max(xs):,.{d}f}]"


def summarize(recs: list[dict[str, object]]) -> str:
    def vals(config: str, scenario: str, metric: str) -> list[float]:
        return [
            float(r[metric])  # type: ignore[arg-type]
            for r in recs
            if r["config"] == config and r["scenario"] == scenario and r.get(metric) is not None
            if r.get("complete") is not False and not r.get("error")
        ]

    rows = ["| metric | " + " | ".join(CONFIGS) + " | two-redis / single-inprocess | two / single-redis |"]
    rows.append("|---|" + "---|" * (len(CONFIGS) + 2))
    for scenario, metric, label in (
        ("fanout1000x100", "msg_per_s", "fan-out 1000×100 msg/s"),
        ("fanout1000x100", "lat_p99_ms", "fan-out 1000×100 p99 ms"),
        ("fanout1000x100", "server_cpu_us_per_msg", "fan-out 1000×100 server µs/msg (all instances)"),
        ("targeted1000x1", "lat_p50_ms", "targeted 1000×1, 1 POST in flight: p50 ms"),
        ("targeted1000x1", "lat_p99_ms", "targeted 1000×1: p99 ms"),
        ("targeted1000x1", "post_rtt_p50_ms", "targeted: POST round trip p50 ms"),
    ):
        cols = [vals(c, scenario, metric) for c in CONFIGS]
        meds = [statistics.median(c) if c else None for c in cols]
        r1 = f"{meds[2] / meds[0]:.2f}×" if meds[0] and meds[2] else ""
        r2 = f"{meds[2] / meds[1]:.2f}×" if meds[1] and meds[2] else ""
        rows.append(f"| {label} | " + " | ".join(fmt(c) for c in cols) + f" | {r1} | {r2} |")
    bad = [r for r in recs if r.get("error") or r.get("complete") is False or r.get("conn_errors")]
    rows += [
        f"- left out: {r['config']}/{r['scenario']}/{r['rep']}: {str(r.get('error'))[:200]}" for r in bad
    ]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--port", type=int, default=19100)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--summarize", type=Path)
    a = ap.parse_args()
    if a.summarize:
        print(summarize([json.loads(x) for x in a.summarize.read_text().splitlines() if x.strip()]))
        return
    out = a.out or BENCH / "results" / time.strftime("scaleout-%Y%m%d-%H%M%S.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    recs = []
    port = a.port
    for rep in range(a.reps):
        for scenario in a.scenarios.split(","):
            for config in a.configs.split(","):
                port += 2
                rec = run_one(config, scenario, port, rep, a.timeout)
                recs.append(rec)
                with out.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                brief = {
                    k: round(v, 2) if isinstance(v, float) else v
                    for k in (
                        "msg_per_s",
                        "lat_p50_ms",
                        "lat_p99_ms",
                        "server_cpu_us_per_msg",
                        "warmup_delivered",
                        "error",
                    )
                    if (v := rec.get(k)) is not None
                }
                print(f"[rep {rep}] {scenario} {config}: {brief}", file=sys.stderr, flush=True)
    print(f"results: {out}; load {os.getloadavg()}\n")
    print(summarize(recs))


if __name__ == "__main__":
    main()
