# ruff: noqa: T201
"""Following document status: WebSocket push versus polling, in server CPU seconds.

The same job in every mode: N users each upload one PDF of P pages (``make_pdfs.py``,
cycled) through ``POST /api/documents`` (8 uploads in flight), and the server works
through the N documents (``[documents] concurrency`` workers) for a fixed window of
``--window`` seconds from the first upload. Modes:

  none  nobody follows: the job's own cost (uploads + processing);
  push  each user has one socket open (opened before the window), which receives its
        document's ``document_status_update`` frames;
  poll  each user's client sends ``GET /api/documents/{id}`` every second on its own
        keep-alive connection (the one its upload used), from its upload until it sees a
        final status or the window ends; the N clients' polls are spread over the second.

Per mode: server CPU over the window (utime+stime of all threads from /proc/<pid>/stat,
and the event-loop thread's own from schedstat), documents finished in the window
(counted in the server's SQLite file, read-only, by this script), requests and frames.
Following cost = CPU − finished documents × the CPU per document of ``none`` (whose
window covers the whole job), so a mode that slows processing is not credited for it.
Each mode gets a fresh server on CPU 0; this script runs on CPU 1; modes interleave.

Usage (from the repository root):
  .venv-bench/bin/python bench/push_poll.py [-n 500] [--pages 2] [--window 30] [--reps 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from driver import pct  # noqa: E402
from responsiveness import make_pdfs  # noqa: E402
from run import raise_nofile, start_server, stop, wait_port  # noqa: E402
from wsclient import ORIGIN, Http, cpu_ticks_s  # noqa: E402


def main_thread_s(pid: int) -> float:
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


FINAL = (b'"status":"completed"', b'"status":"failed"')


class PushClient(asyncio.Protocol):
    """A socket that counts text frames and notes when its document reached a final status."""

    def __init__(self, request: bytes, opened: asyncio.Future[None]) -> None:
        self.request = request
        self.opened = opened
        self.head: bytes | None = b""
        self.buf = b""
        self.frames = 0
        self.final = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            ok = self.head.startswith(b"HTTP/1.1 101")
            data, self.head = self.head[end + 4 :], None
            if not self.opened.done():
                if ok:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(ConnectionError("upgrade refused"))
        buf = self.buf + data
        pos, n = 0, len(buf)
        while n - pos >= 2:
            length = buf[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if start + length > n:
                break
            opcode = buf[pos] & 0x0F
            if opcode == 1:
                self.frames += 1
                frame = buf[start : start + length]
                if b"document_status_update" in frame and any(f in frame for f in FINAL):
                    self.final = True
            elif opcode == 9 and self.transport is not None:
                payload = buf[start : start + length]
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\x00\x00\x00\x00" + payload)
            pos = start + length
        self.buf = buf[pos:]


def finished(db_path: Path) -> int:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return int(
            con.execute("SELECT count(*) FROM documents WHERE status IN ('completed','failed')").fetchone()[0]
        )
    finally:
        con.close()


async def run_mode(a: argparse.Namespace, mode: str, pid: int, sessions: dict[str, object], db: Path) -> dict:
    users = sessions["users"]  # type: ignore[index]
    loop = asyncio.get_running_loop()
    pdfs = [p.read_bytes() for p in a.pdf_paths]
    pushers: list[PushClient] = []
    if mode == "push":
        for u in users:  # type: ignore[attr-defined]
            request = (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{a.port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: 13\r\nCookie: connect.sid={u['cookie']}\r\n"
                f"Origin: {ORIGIN.format(port=a.port)}\r\n\r\n"
            ).encode()
            opened: asyncio.Future[None] = loop.create_future()
            _, c = await loop.create_connection(
                lambda r=request, o=opened: PushClient(r, o), "127.0.0.1", a.port
            )
            await asyncio.wait_for(opened, 30)
            pushers.append(c)
        await asyncio.sleep(2.0)  # the upgrades' own work is over before the window opens
    n = len(users)  # type: ignore[arg-type]
    polls = [0]
    poll_rtt: list[float] = []
    poll_status: dict[int, int] = {}
    ids: dict[int, str] = {}
    conns: dict[int, Http] = {}
    t0 = time.perf_counter()
    c0, m0 = cpu_ticks_s(pid), main_thread_s(pid)

    async def poller(i: int) -> None:
        http = conns[i]
        # Spread the N clients' polls evenly over each second.
        next_at = loop.time() + (i / n)
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += 1.0
            s0 = time.perf_counter()
            status, body = await http.request("GET", f"/api/documents/{ids[i]}")
            poll_rtt.append(time.perf_counter() - s0)
            polls[0] += 1
            poll_status[status] = poll_status.get(status, 0) + 1
            if status == 200 and json.loads(body)["status"] in ("completed", "failed"):
                return

    pollers: list[asyncio.Task[None]] = []
    queue = list(range(n))

    async def uploader() -> None:
        while queue:
            i = queue.pop(0)
            http = Http(a.port, users[i]["cookie"])  # type: ignore[index]
            status, body = await http.upload([(f"u{i}.pdf", pdfs[i % len(pdfs)])])
            if status != 201:
                raise RuntimeError(f"upload {i}: {status} {body[:200]!r}")
            ids[i] = json.loads(body)["documents"][0]["id"]
            if mode == "poll":
                conns[i] = http
                pollers.append(asyncio.ensure_future(poller(i)))
            else:
                http.close()

    await asyncio.gather(*(uploader() for _ in range(8)))
    uploads_s = time.perf_counter() - t0
    await asyncio.sleep(max(0.0, t0 + a.window - time.perf_counter()))
    elapsed = time.perf_counter() - t0
    cpu, main = cpu_ticks_s(pid) - c0, main_thread_s(pid) - m0
    done = await asyncio.to_thread(finished, db)
    for t in pollers:
        t.cancel()
    await asyncio.gather(*pollers, return_exceptions=True)
    for h in conns.values():
        h.close()
    rtt = sorted(poll_rtt)
    res = {
        "mode": mode,
        "n": n,
        "pages": a.pages,
        "complete": done >= n,
        "finished_docs": done,
        "window_s": elapsed,
        "uploads_s": uploads_s,
        "server_cpu_s": cpu,
        "server_cpu_util": cpu / elapsed,
        "main_thread_cpu_s": main,
        "poll_requests": polls[0],
        "poll_status": poll_status,
        "poll_rtt_p50_ms": pct(rtt, 0.5) * 1e3 if rtt else None,
        "poll_rtt_p99_ms": pct(rtt, 0.99) * 1e3 if rtt else None,
        "push_frames": sum(c.frames for c in pushers),
        "push_final_seen": sum(1 for c in pushers if c.final),
        "loadavg": os.getloadavg()[0],
    }
    for c in pushers:
        if c.transport is not None:
            c.transport.abort()
    return res


def one(a: argparse.Namespace, mode: str, rep: int) -> dict:
    import uvloop

    workdir = Path(tempfile.mkdtemp(prefix=f"pd-bench-pushpoll-{mode}-"))
    proc = None
    try:
        proc, cmd = start_server("productdemo", a.port, a.n, workdir)
        if not wait_port(a.port):
            return {"mode": mode, "rep": rep, "error": (workdir / "server.log").read_text()[-1000:]}
        time.sleep(1.0)
        sessions = json.loads((workdir / "sessions.json").read_text())
        res = uvloop.run(run_mode(a, mode, proc.pid, sessions, workdir / "productdemo.db"))
        res["rep"] = rep
        res["server_cmd"] = " ".join(cmd)
        return res
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def med(xs: list[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.2f}"
    return f"{statistics.median(xs):.2f} [{min(xs):.2f}–{max(xs):.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=500, help="users, each with one document and one follower")
    ap.add_argument("--pages", type=int, default=2)
    ap.add_argument("--distinct", type=int, default=10, help="distinct PDFs, cycled over the users")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--modes", default="none,push,poll")
    ap.add_argument("--window", type=float, default=30, help="seconds from the first upload")
    ap.add_argument("--pdf-dir", type=Path, default=Path("/tmp/pd-bench-pdfs"))
    ap.add_argument("--port", type=int, default=18970)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    raise_nofile()
    os.sched_setaffinity(0, {1})
    a.pdf_paths = make_pdfs(a.pdf_dir, a.pages, a.distinct)
    out = a.out or BENCH / "results" / time.strftime("push-poll-%Y%m%d-%H%M%S.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    recs = []
    for rep in range(a.reps):
        for mode in a.modes.split(","):
            a.port += 1
            rec = one(a, mode, rep)
            recs.append(rec)
            with out.open("a") as f:
                f.write(json.dumps(rec) + "\n")
            brief = {
                k: round(v, 2) if isinstance(v, float) else v for k, v in rec.items() if k != "server_cmd"
            }
            print(brief, file=sys.stderr, flush=True)
    ok = [r for r in recs if "error" not in r]
    by = {m: [r for r in ok if r["mode"] == m] for m in a.modes.split(",")}
    none = by.get("none") or []
    per_doc = statistics.median(r["server_cpu_s"] / r["finished_docs"] for r in none) if none else 0.0
    per_doc_main = (
        statistics.median(r["main_thread_cpu_s"] / r["finished_docs"] for r in none) if none else 0.0
    )
    print(
        f"\n{a.n} followers, {a.n} documents of {a.pages} pages, {a.window:.0f} s window; "
        f"median [min–max]; {out}"
    )
    print(
        f"CPU per finished document without followers: {per_doc * 1e3:.1f} ms "
        f"({per_doc_main * 1e3:.1f} ms event loop)"
    )
    print(
        "| mode | docs finished | server CPU s | following cost CPU s | event-loop thread CPU s "
        "| its following cost | requests | frames pushed | poll p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    cost: dict[str, float] = {}
    for m, rs in by.items():
        if not rs:
            continue
        follow = [r["server_cpu_s"] - r["finished_docs"] * per_doc for r in rs]
        follow_main = [r["main_thread_cpu_s"] - r["finished_docs"] * per_doc_main for r in rs]
        cost[m] = statistics.median(follow)
        p99 = [r["poll_rtt_p99_ms"] for r in rs if r["poll_rtt_p99_ms"] is not None]
        print(
            f"| {m} | {med([r['finished_docs'] for r in rs])} | {med([r['server_cpu_s'] for r in rs])} "
            f"| {med(follow)} | {med([r['main_thread_cpu_s'] for r in rs])} | {med(follow_main)} "
            f"| {med([r['poll_requests'] for r in rs])} | {med([r['push_frames'] for r in rs])} "
            f"| {med(p99) if p99 else '–'} |"
        )
    if "push" in cost and "poll" in cost:
        ratio = cost["poll"] / cost["push"] if cost["push"] > 0 else float("inf")
        print(f"\npoll/push following cost: {ratio:.1f}× (target ≥ 10×); load {os.getloadavg()}")


if __name__ == "__main__":
    main()
