# ruff: noqa: T201
"""Ping round trips on N idle sockets while documents are processed.

One fresh ProductDemo server on CPU 0 (N users with one session each, from
``setup_sessions.py``); this script on CPU 1. It opens N authenticated sockets, then
sends one app-level ``{"type":"ping","id":"p<time_ns>"}`` per socket per second, spread
evenly (N/100 pings every 10 ms), and times each ``pong`` (the pong echoes the id, so
the round trip is receive time minus the time_ns in it). After ``--idle`` seconds of
pings alone it uploads D PDFs of P pages (``make_pdfs.py``) as user 0 through
``POST /api/documents`` (batches of ``--batch`` files; user 0's own socket stays among
the N), and keeps pinging until every document has reached ``completed`` or ``failed``,
watched on a separate socket of user 0 (``document_status_update`` frames).

Printed: p50/p99/max ping RTT while idle and during processing (pongs received from the
first upload to the last completion), the processing duration, pings sent/answered, the
server's CPU use, and how long its event-loop thread was runnable but waiting for a CPU
(schedstat: time other processes on its core took; a tail the loop itself did not cause).
``--py-spy FILE`` records the server during processing (``py-spy record --threads -f raw``).

Usage (from the repository root):
  .venv-bench/bin/python bench/responsiveness.py [-n 1000] [--docs 50] [--pages 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from driver import Client, Stats, pct  # noqa: E402
from run import APP_PY, BENCH_PY, raise_nofile, start_server, stop, wait_port  # noqa: E402
from wsclient import ORIGIN, Http, WebSocket, cpu_ticks_s, text_frame  # noqa: E402

time_ns = time.time_ns
FINAL = ("completed", "failed")


def loop_waited_s(pid: int) -> float:
    """Time the server's main thread (the event loop) spent runnable but waiting for a CPU."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        return int(f.read().split()[1]) / 1e9


def make_pdfs(directory: Path, pages: int, count: int) -> list[Path]:
    out = subprocess.run(
        [str(APP_PY), str(BENCH / "make_pdfs.py"), str(directory), str(pages), str(count)],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return [Path(line) for line in out.stdout.split()]


async def open_sockets(port: int, users: list[dict[str, object]], st: Stats) -> list[Client]:
    loop = asyncio.get_running_loop()
    clients: list[Client] = []
    queue = list(enumerate(users))

    async def worker() -> None:
        while queue:
            _, user = queue.pop()
            request = (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: 13\r\nCookie: connect.sid={user['cookie']}\r\n"
                f"Origin: {ORIGIN.format(port=port)}\r\n\r\n"
            ).encode()
            opened: asyncio.Future[None] = loop.create_future()
            _, client = await loop.create_connection(
                lambda r=request, o=opened: Client(st, r, o, b""), "127.0.0.1", port
            )
            await asyncio.wait_for(opened, 30)
            clients.append(client)

    await asyncio.gather(*(worker() for _ in range(100)))
    return clients


async def pinger(clients: list[Client], stop_at: asyncio.Event, sent: list[int]) -> None:
    """One ping per socket per second, N/100 every 10 ms, on an absolute schedule."""
    loop = asyncio.get_running_loop()
    per_tick = max(1, len(clients) // 100)
    i = 0
    tick = loop.time()
    while not stop_at.is_set():
        for _ in range(per_tick):
            c = clients[i % len(clients)]
            i += 1
            if c.transport is not None and not c.transport.is_closing():
                c.transport.write(text_frame(b'{"type":"ping","id":"p%d"}' % time_ns()))
                sent[0] += 1
        tick += 0.01
        await asyncio.sleep(max(0.0, tick - loop.time()))


def summary(lat_ns: array[int]) -> dict[str, float | None]:
    xs = sorted(lat_ns)
    return {
        "pongs": len(xs),
        "p50_ms": pct(xs, 0.5) / 1e6 if xs else None,
        "p99_ms": pct(xs, 0.99) / 1e6 if xs else None,
        "max_ms": xs[-1] / 1e6 if xs else None,
    }


async def bench(
    a: argparse.Namespace, pid: int, sessions: dict[str, object], pdfs: list[Path]
) -> dict[str, object]:
    users = sessions["users"]  # type: ignore[index]
    st = Stats(b'"id":"p')
    st.expect = 1 << 60  # never "done": we only collect round trips
    clients = await open_sockets(a.port, users, st)  # type: ignore[arg-type]
    owner = users[0]  # type: ignore[index]
    watch = await WebSocket.connect(a.port, owner["cookie"])
    await watch.recv_json()  # hello
    res: dict[str, object] = {"sockets": len(clients), "docs": len(pdfs), "pages": a.pages}
    stop_ping = asyncio.Event()
    sent = [0]
    ping_task = asyncio.ensure_future(pinger(clients, stop_ping, sent))
    await asyncio.sleep(1.0)  # first round of pings: let every socket's first pong arrive
    i_idle = len(st.lat)
    c_idle = cpu_ticks_s(pid)
    await asyncio.sleep(a.idle)
    idle = st.lat[i_idle:]
    res["idle"] = {**summary(idle), "server_cpu_util": (cpu_ticks_s(pid) - c_idle) / a.idle}

    final: dict[str, str] = {}
    ids: set[str] = set()

    async def follow() -> None:
        while not ids or any(d not in final for d in ids):
            msg = await watch.recv_json()
            if msg["type"] == "document_status_update":
                p = msg["payload"]
                if p["status"] in FINAL:  # type: ignore[index]
                    final[p["documentId"]] = p["status"]  # type: ignore[index]

    spy = None
    if a.py_spy:
        spy = subprocess.Popen(
            [str(BENCH_PY.parent / "py-spy"), "record", "-p", str(pid), "-r", "100", "--threads", "-f", "raw"]
            + ["--nonblocking", *a.py_spy_args.split(), "-o", str(a.py_spy), "-d", str(int(a.timeout))],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    i0, c0, t0 = len(st.lat), cpu_ticks_s(pid), time.perf_counter()
    w0 = loop_waited_s(pid)
    follower = asyncio.ensure_future(follow())
    http = Http(a.port, owner["cookie"])
    upload_s = []
    for start in range(0, len(pdfs), a.batch):
        batch = [(p.name, p.read_bytes()) for p in pdfs[start : start + a.batch]]
        u0 = time.perf_counter()
        status, body = await http.upload(batch)
        upload_s.append(time.perf_counter() - u0)
        if status != 201:
            raise RuntimeError(f"upload: {status} {body[:300]!r}")
        ids.update(d["id"] for d in json.loads(body)["documents"])
    http.close()
    try:
        await asyncio.wait_for(follower, a.timeout)
        complete = True
    except TimeoutError:
        complete = False
    elapsed = time.perf_counter() - t0
    busy = st.lat[i0:]
    cpu = cpu_ticks_s(pid) - c0
    waited = loop_waited_s(pid) - w0
    stop_ping.set()
    await ping_task
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()
    await asyncio.sleep(1.0)
    res["processing"] = {
        **summary(busy),
        "complete": complete,
        "completed": sum(1 for s in final.values() if s == "completed"),
        "failed": sum(1 for s in final.values() if s == "failed"),
        "duration_s": elapsed,
        "upload_request_s": upload_s,
        "server_cpu_s": cpu,
        "server_cpu_util": cpu / elapsed,
        # Runnable but off the CPU (other processes on its core): a tail the loop did not cause.
        "loop_waited_for_cpu_s": waited,
        "expected_pongs": round(len(clients) * elapsed),
    }
    res["pings_sent"] = sent[0]
    res["pongs_received"] = len(st.lat)
    res["closed_by_server"] = st.closed
    res["loadavg"] = os.getloadavg()
    res["server_env"] = a.env
    res["launcher"] = str(a.launcher or "")
    watch.close()
    for c in clients:
        c.transport.abort()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1000, help="idle sockets that ping")
    ap.add_argument("--docs", type=int, default=50)
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--batch", type=int, default=10, help="files per upload request (at most 20)")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds of pings before the uploads")
    ap.add_argument("--timeout", type=float, default=600, help="max seconds of processing")
    ap.add_argument("--pdf-dir", type=Path, default=Path("/tmp/pd-bench-pdfs"))
    ap.add_argument("--port", type=int, default=18960)
    ap.add_argument("--py-spy", type=Path, default=None, help="record the server during processing")
    ap.add_argument("--py-spy-args", default="", help='more py-spy options, e.g. "--gil" or "--idle"')
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    ap.add_argument("--launcher", type=Path, help="run the server as `.venv/bin/python LAUNCHER serve`")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    raise_nofile()
    os.sched_setaffinity(0, {1})
    pdfs = make_pdfs(a.pdf_dir, a.pages, a.docs)
    workdir = Path(tempfile.mkdtemp(prefix="pd-bench-resp-"))
    proc = None
    try:
        extra = dict(kv.split("=", 1) for kv in a.env)
        argv = [str(APP_PY), str(a.launcher), "serve"] if a.launcher else None
        proc, cmd = start_server("productdemo", a.port, a.n, workdir, extra, argv)
        print("server:", " ".join(cmd), file=sys.stderr)
        if not wait_port(a.port):
            sys.exit("server did not start: " + (workdir / "server.log").read_text()[-1000:])
        time.sleep(1.0)
        sessions = json.loads((workdir / "sessions.json").read_text())
        import uvloop

        res = uvloop.run(bench(a, proc.pid, sessions, pdfs))
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    out = a.out or BENCH / "results" / time.strftime("responsiveness-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    p = res["processing"]
    print(
        f"\n{a.n} sockets, {a.docs}×{a.pages}-page PDFs: processing {p['duration_s']:.1f} s "  # type: ignore[index]
        f"({p['completed']} completed, {p['failed']} failed); ping RTT p50 {p['p50_ms']:.1f} ms, "  # type: ignore[index]
        f"p99 {p['p99_ms']:.1f} ms, max {p['max_ms']:.1f} ms; "  # type: ignore[index]
        f"loop waited {p['loop_waited_for_cpu_s']:.2f} s for a CPU; load {res['loadavg'][0]:.1f}; "  # type: ignore[index]
        f"target p99 < 100 ms: {'met' if p['p99_ms'] < 100 else 'NOT met'}"  # type: ignore[index]
    )


if __name__ == "__main__":
    main()
