# ruff: noqa: T201
"""Resume of M missed events: time from ``resume`` sent to its ``ack`` received, and server CPU.

One fresh ProductDemo server on CPU 0 (data directory from ``setup_sessions.py``, one user
plus the admin); this script on CPU 1. Each repetition:

1. open an authenticated socket as the user, read ``hello``: the position (epoch, seq) of
   stream ``user:<id>``; close the socket;
2. publish M events to that user through the HTTP API (``POST /api/admin/broadcast`` with
   ``userId``, admin cookie, 4 keep-alive connections), while no socket of the user is open;
3. reconnect, read ``hello``, then send
   ``{"type":"resume","id":"r","payload":{"streams":{"user:<id>":{"epoch":..,"seq":..}}}}``
   and read frames until the ``ack`` (the replayed frames come before it).

Reported per repetition: client-observed time from writing ``resume`` to parsing the ``ack``
(an upper bound on server time: it includes loopback and the client's frame parsing), the
server's CPU time over the same interval (schedstat of all its threads, ns resolution; the
``/proc/<pid>/stat`` ticks are 10 ms), and the number of replayed frames. A resume from the
current position (nothing missed) is measured too, as the fixed cost.

Usage (from the repository root):
  .venv-bench/bin/python bench/resume.py [--events 1000] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import raise_nofile, start_server, stop, wait_port
from wsclient import Http, WebSocket, cpu_sched_s, cpu_ticks_s


async def hello_position(port: int, cookie: str, stream: str) -> tuple[WebSocket, dict[str, int | str]]:
    ws = await WebSocket.connect(port, cookie)
    hello = await ws.recv_json()
    assert hello["type"] == "hello", hello
    return ws, hello["payload"]["streams"][stream]  # type: ignore[index]


async def publish(port: int, admin_cookie: str, user_id: int, m: int, conns: int = 4) -> float:
    left = list(range(m))

    async def one() -> None:
        http = Http(port, admin_cookie)
        try:
            while left:
                i = left.pop()
                status, body = await http.post_json(
                    "/api/admin/broadcast", {"message": f"missed event {i}", "userId": user_id}
                )
                if status != 200:
                    raise RuntimeError(f"broadcast: {status} {body[:200]!r}")
        finally:
            http.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(conns)))
    return time.perf_counter() - t0


async def timed_resume(ws: WebSocket, pid: int, stream: str, pos: dict[str, int | str]) -> dict[str, float]:
    c0, t0c = cpu_sched_s(pid), cpu_ticks_s(pid)
    t0 = time.perf_counter()
    ws.send({"type": "resume", "id": "r", "payload": {"streams": {stream: pos}}})
    frames = 0
    while True:
        msg = await ws.recv_json()
        if msg["type"] == "ack" and msg.get("id") == "r":
            break
        if msg["type"] == "error":
            raise RuntimeError(f"resume refused: {msg}")
        frames += 1
    elapsed = time.perf_counter() - t0
    c1, t1c = cpu_sched_s(pid), cpu_ticks_s(pid)
    result = msg["payload"]["streams"][stream]  # type: ignore[index]
    return {
        "ms": elapsed * 1e3,
        "server_cpu_ms": (c1 - c0) * 1e3,
        "server_cpu_ticks_ms": (t1c - t0c) * 1e3,
        "frames_before_ack": frames,
        "replayed": result["replayed"],
        "resync": result["resync"],
    }


async def bench(a: argparse.Namespace, pid: int, sessions: dict[str, object]) -> list[dict[str, object]]:
    user = sessions["users"][0]  # type: ignore[index]
    admin_cookie = sessions["admin"]["cookie"]  # type: ignore[index]
    stream = f"user:{user['id']}"
    out = []
    for rep in range(a.reps):
        ws, before = await hello_position(a.port, user["cookie"], stream)
        ws.close()
        await asyncio.sleep(0.2)
        publish_s = await publish(a.port, admin_cookie, user["id"], a.events)
        await asyncio.sleep(a.settle)
        ws, now = await hello_position(a.port, user["cookie"], stream)
        await asyncio.sleep(a.settle)  # let the upgrade's own work finish before measuring
        missed = await timed_resume(ws, pid, stream, before)
        await asyncio.sleep(0.2)
        current = await timed_resume(ws, pid, stream, now)
        ws.close()
        rec = {
            "rep": rep,
            "events": a.events,
            "seq_before": before["seq"],
            "seq_after": now["seq"],
            "publish_s": publish_s,
            "loadavg": os.getloadavg()[0],
            **{f"missed_{k}": v for k, v in missed.items()},
            **{f"nothing_{k}": v for k, v in current.items()},
        }
        print(json.dumps(rec), flush=True)
        out.append(rec)
        await asyncio.sleep(0.5)
    return out


def fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):.1f} [{min(xs):.1f}–{max(xs):.1f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1000, help="events missed per repetition")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--port", type=int, default=18950)
    ap.add_argument("--settle", type=float, default=0.5)
    ap.add_argument("--out", type=Path, default=None, help="JSON lines (default bench/results/resume-<time>)")
    a = ap.parse_args()
    raise_nofile()
    os.sched_setaffinity(0, {1})  # the client on CPU 1, the server on CPU 0
    workdir = Path(tempfile.mkdtemp(prefix="pd-bench-resume-"))
    proc = None
    try:
        proc, cmd = start_server("productdemo", a.port, 1, workdir)
        print("server:", " ".join(cmd), file=sys.stderr)
        if not wait_port(a.port):
            sys.exit("server did not start: " + (workdir / "server.log").read_text()[-1000:])
        time.sleep(1.0)
        sessions = json.loads((workdir / "sessions.json").read_text())
        import uvloop

        recs = uvloop.run(bench(a, proc.pid, sessions))
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    out = a.out or Path(__file__).resolve().parent / "results" / time.strftime("resume-%Y%m%d-%H%M%S.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in recs))
    ok = all(r["missed_replayed"] == a.events and not r["missed_resync"] for r in recs)
    ms = [float(r["missed_ms"]) for r in recs]  # type: ignore[arg-type]
    print(f"\nresume of {a.events} missed events, {len(recs)} repetitions (median [min–max]); {out}")
    print("| resume | client-observed ms | server CPU ms (schedstat) | frames before ack |")
    print("|---|---|---|---|")
    for key, label in (("missed", f"{a.events} missed"), ("nothing", "nothing missed")):
        print(
            f"| {label} | {fmt([float(r[f'{key}_ms']) for r in recs])} "  # type: ignore[arg-type]
            f"| {fmt([float(r[f'{key}_server_cpu_ms']) for r in recs])} "  # type: ignore[arg-type]
            f"| {statistics.median(int(r[f'{key}_frames_before_ack']) for r in recs)} |"  # type: ignore[call-overload]
        )
    print(
        f"\nall replayed in full: {ok}; max client-observed {max(ms):.1f} ms; "
        f"target < 100 ms: {'met' if ok and max(ms) < 100 else 'NOT met'}; "
        f"load {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
