# ruff: noqa: T201
"""Chat answer streaming: what our path adds, and what it costs at 200 answers at once.

Runs three things, each bounded, and prints one JSON object:

1. ``ttft``: time to first token. A loopback OpenAI-compatible provider (``--serve-fake``, a
   subprocess) sends its first token at once. Measured twice, ``--rounds`` times each:
   directly (POST to the provider -> first ``delta.content``), and through ProductDemo
   (``POST /api/conversations/{id}/messages`` -> first ``message_chunk`` on the socket). The
   difference is our path: the HTTP request, two rows written, retrieval, the provider
   connection, and up to one ``flush_interval`` (50 ms) of chunk merging.
2. ``load``: ``--answers`` users, one socket each, all asking at once; the provider streams
   ``--tokens`` tokens per answer at ``--rate`` tokens/s, each token carrying the time it was
   written (``t<time_ns>``). Reported: server CPU seconds per token (``/proc``), chunk frames per
   second received, and the delay from a token leaving the provider to its arrival at the
   client socket (p50/p99; includes the merge window), and that p99 again for the tokens
   written before and after the last question was accepted (streaming with questions arriving
   beside it, and without), and before the last answer's first chunk (answers still
   starting), and each answer's first chunk after its question (p50/max). This client shares
   the machine and, unless ``--ask-process`` posts the questions from a second process, parses
   the 200 HTTP replies in that window: its own loop lag while asking (p99/max) says how much
   of the delay is its own.
3. ``llama`` (``--llama``, instead of 1 and 2): the real provider (SmolLM2-135M through
   xllamacpp) answering over passages that make a ~600-token prompt: time to first token and
   generation tokens/s, three times after a warm-up, each over a different prompt.

The server runs as a subprocess (``productdemo serve``) on a fresh data directory, with users
and sessions written by ``bench/setup_sessions.py``. The machine may be shared: see
docs/performance.md for how the figures were taken.

Usage: .venv/bin/python bench/chat_stream.py [--answers 200] [--tokens 100] [--rate 50] [--postgres URL]
                                             [--ask-process]
       .venv/bin/python bench/chat_stream.py --llama
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
CLK = os.sysconf("SC_CLK_TCK")
STAMP = re.compile(r"t(\d{19})")
SECRET = "bench-secret-key-for-chat-streaming"


# --- the provider -------------------------------------------------------------------------


async def serve_fake(port: int, tokens: int, rate: float) -> None:
    """An OpenAI-compatible SSE endpoint: a role chunk, ``tokens`` stamped tokens at ``rate``/s."""

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "object": "chat.completion.chunk",
        }
        data = f"data: {json.dumps(body)}\n\n".encode()
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            writer.write(event({"role": "assistant", "content": None}))
            start = time.monotonic()
            for n in range(tokens):
                # Paced against the start, so a late wake-up does not slow the whole answer.
                await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
                writer.write(event({"content": f"t{time.time_ns()} "}))
                await writer.drain()
            writer.write(event({}, "stop"))
            usage = {"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": tokens}}
            data = f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


async def _wait_http(url: str, timeout: float = 30.0) -> None:
    async with httpx.AsyncClient() as http, asyncio.timeout(timeout):
        while True:
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)


async def _wait_port(port: int, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.1)


async def _loop_lag(lags: list[tuple[int, float]]) -> None:
    """This client's own event-loop lag (ms), stamped: a token that reached the socket waits
    this long before this process reads it, so it is part of every delay measured here."""
    while True:
        start = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append((time.time_ns(), 1000 * (time.perf_counter() - start - 0.005)))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- measurements -------------------------------------------------------------------------


async def direct_ttft(provider: str) -> float:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with httpx.AsyncClient(timeout=30) as http:
        start = time.perf_counter()
        async with http.stream("POST", f"{provider}/chat/completions", json=body) as reply:
            async for line in reply.aiter_lines():
                if '"content": "t' in line:
                    return time.perf_counter() - start
    raise RuntimeError("no token")


class Tab:
    """One user's socket, following one conversation."""

    def __init__(self, base: str, cookie: str) -> None:
        self.base, self.cookie = base, cookie
        self.headers = {"Origin": base, "Cookie": f"connect.sid={cookie}"}
        self.delays: list[float] = []
        # (ns the provider wrote the token, ms it took to reach this socket)
        self.stamped: list[tuple[int, float]] = []
        self.frames = 0
        self.asked_s = 0.0
        self.asked_ns = 0
        self.first_ns = 0

    async def open(self, http: httpx.AsyncClient) -> None:
        reply = await http.post(f"{self.base}/api/conversations", json={}, headers=self.headers)
        self.conversation = reply.json()["conversation"]["id"]
        ws_url = self.base.replace("http", "ws") + "/ws"
        self.ws = await connect(ws_url, additional_headers=self.headers, origin=None, max_queue=None)
        await self.ws.recv()  # hello
        topic = f"conversation:{self.conversation}"
        await self.ws.send(json.dumps({"type": "subscribe", "id": "s", "payload": {"topic": topic}}))
        while json.loads(await self.ws.recv())["type"] != "ack":
            pass

    async def ask(self, http: httpx.AsyncClient) -> float:
        """Ask, read until message_end; returns the seconds to the first chunk."""
        start = time.perf_counter()
        path = f"{self.base}/api/conversations/{self.conversation}/messages"
        reply = await http.post(path, json={"content": "What do the stamps say?"}, headers=self.headers)
        reply.raise_for_status()
        self.asked_s = time.perf_counter() - start
        self.asked_ns = time.time_ns()
        await self.follow()
        return (self.first_ns - self.asked_ns) / 1e9 + self.asked_s

    async def follow(self) -> None:
        """Read the answer's frames until its message_end."""
        first = None
        while True:
            raw = await self.ws.recv()
            now = time.time_ns()
            frame = json.loads(raw)
            if frame["type"] == "message_chunk":
                if first is None:
                    first = self.first_ns = now
                self.frames += 1
                stamps = [int(ts) for ts in STAMP.findall(frame["payload"]["delta"])]
                self.delays += [(now - ts) / 1e6 for ts in stamps]
                self.stamped += [(ts, (now - ts) / 1e6) for ts in stamps]
            elif frame["type"] == "message_end":
                assert frame["payload"]["status"] == "complete", frame
                assert first is not None
                return


async def ask_all() -> None:
    """``--asker``: post every question of stdin's ``{"base", "asks": [[cookie, conversation]]}``
    at once when told ``go``; prints ``[[start ns, accepted ns], ...]``."""
    loop = asyncio.get_running_loop()
    job = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    base, asks = job["base"], job["asks"]
    limits = httpx.Limits(max_connections=len(asks) + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def one(cookie: str, conversation: str) -> tuple[int, int]:
            headers = {"Origin": base, "Cookie": f"connect.sid={cookie}"}
            start = time.time_ns()
            path = f"{base}/api/conversations/{conversation}/messages"
            reply = await http.post(path, json={"content": "What do the stamps say?"}, headers=headers)
            reply.raise_for_status()
            return start, time.time_ns()

        print("ready", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        print(json.dumps(await asyncio.gather(*(one(c, v) for c, v in asks))), flush=True)


async def _ask_from(asker: asyncio.subprocess.Process) -> list[tuple[int, int]]:
    assert asker.stdin is not None and asker.stdout is not None
    asker.stdin.write(b"go\n")
    await asker.stdin.drain()
    asked: list[tuple[int, int]] = json.loads(await asker.stdout.readline())
    await asker.wait()
    return asked


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    if not args.postgres:
        return await _measure(args, work, {})
    # A database of its own on the given PostgreSQL server, dropped afterwards.
    import asyncpg

    name = f"chatbench_{os.getpid()}"
    server = args.postgres.replace("+asyncpg", "")
    admin = await asyncpg.connect(f"{server}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        return await _measure(args, work, {"PRODUCTDEMO_DATABASE_URL": f"{args.postgres}/{name}"})
    finally:
        admin = await asyncpg.connect(f"{server}/postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _measure(args: argparse.Namespace, work: Path, database: dict[str, str]) -> dict[str, Any]:
    n = args.answers
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/setup_sessions.py"),
            str(work / "data"),
            str(n),
            str(work / "s.json"),
        ],
        check=True,
        env={**os.environ, **database, "PRODUCTDEMO_SECURITY_SECRET_KEY": SECRET},
    )
    users = json.loads((work / "s.json").read_text())["users"]
    fake_port, port = _free_port(), _free_port()
    provider = f"http://127.0.0.1:{fake_port}/v1"
    fake = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve-fake",
            str(fake_port),
            "--tokens",
            str(args.tokens),
            "--rate",
            str(args.rate),
        ]
    )
    env = {
        **os.environ,
        "PRODUCTDEMO_SECURITY_SECRET_KEY": SECRET,
        "PRODUCTDEMO_STORAGE_DATA_DIR": str(work / "data"),
        "PRODUCTDEMO_SERVER_PORT": str(port),
        "PRODUCTDEMO_LLM_PROVIDER": "openai",
        "PRODUCTDEMO_LLM_OPENAI_URL": provider,
        "PRODUCTDEMO_LOGGING_LEVEL": "WARNING",
        **database,
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/productdemo"), "serve"], env=env, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_http(f"{base}/api/health")
        await _wait_port(fake_port)
        limits = httpx.Limits(max_connections=n + 10)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            tabs = [Tab(base, u["cookie"]) for u in users]
            for tab in tabs:
                await tab.open(http)
            asker = None
            if args.ask_process:
                # The questions are posted by a second process, so this one only reads sockets:
                # its own loop lag (200 HTTP replies parsed at once) stays out of the delays.
                asker = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--asker",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
                assert asker.stdin is not None and asker.stdout is not None
                asks = [[tab.cookie, tab.conversation] for tab in tabs]
                asker.stdin.write(json.dumps({"base": base, "asks": asks}).encode() + b"\n")
                await asker.stdin.drain()
                assert await asker.stdout.readline() == b"ready\n"
            direct = [await direct_ttft(provider) for _ in range(args.rounds)]
            ours = [await tabs[i % n].ask(http) for i in range(args.rounds)]
            for tab in tabs:
                tab.delays, tab.stamped, tab.frames = [], [], 0
            cpu0, t0 = _cpu(server.pid), time.perf_counter()
            lags: list[tuple[int, float]] = []
            probe = asyncio.ensure_future(_loop_lag(lags))
            if asker is None:
                firsts = await asyncio.gather(*(tab.ask(http) for tab in tabs))
            else:
                asked, *_ = await asyncio.gather(_ask_from(asker), *(tab.follow() for tab in tabs))
                for tab, (start_ns, accepted_ns) in zip(tabs, asked, strict=True):
                    tab.asked_s, tab.asked_ns = (accepted_ns - start_ns) / 1e9, accepted_ns
                firsts = [
                    (tab.first_ns - start_ns) / 1e9 for tab, (start_ns, _) in zip(tabs, asked, strict=True)
                ]
            probe.cancel()
            elapsed, cpu = time.perf_counter() - t0, _cpu(server.pid) - cpu0
        delays = [d for tab in tabs for d in tab.delays]
        # Tokens written once every question had been accepted: streaming alone, without the
        # start-up work of answers (and the client's HTTP replies) competing with it.
        all_asked = max(tab.asked_ns for tab in tabs)
        steady = [d for tab in tabs for ts, d in tab.stamped if ts > all_asked]
        asking = [d for tab in tabs for ts, d in tab.stamped if ts <= all_asked]
        # Tokens written before the last answer's first chunk: some answers were still starting.
        all_started = max(tab.first_ns for tab in tabs)
        starting = [d for tab in tabs for ts, d in tab.stamped if ts <= all_started]
        frames = sum(tab.frames for tab in tabs)
        own_lag = [lag for at, lag in lags if at <= all_asked]
        return {
            "ttft": {
                "rounds": args.rounds,
                "direct_ms_median": round(1000 * statistics.median(direct), 1),
                "ours_ms_median": round(1000 * statistics.median(ours), 1),
                "added_ms_median": round(1000 * (statistics.median(ours) - statistics.median(direct)), 1),
            },
            "load": {
                "answers": n,
                "tokens_per_answer": args.tokens,
                "rate_per_answer": args.rate,
                "tokens_received": len(delays),
                "seconds": round(elapsed, 2),
                "server_cpu_s": round(cpu, 2),
                "server_cpu_us_per_token": round(1e6 * cpu / max(1, len(delays)), 1),
                "chunk_frames_per_s": round(frames / elapsed, 1),
                "tokens_per_frame": round(len(delays) / max(1, frames), 1),
                "delay_ms_p50": round(_pct(delays, 0.5), 1),
                "delay_ms_p99": round(_pct(delays, 0.99), 1),
                "delay_ms_p99_while_asking": round(_pct(asking, 0.99), 1),
                "tokens_while_asking": len(asking),
                "delay_ms_p99_while_starting": round(_pct(starting, 0.99), 1),
                "tokens_while_starting": len(starting),
                "delay_ms_p99_after_asks": round(_pct(steady, 0.99), 1),
                "tokens_after_asks": len(steady),
                "client_lag_ms_p99_while_asking": round(_pct(own_lag, 0.99), 1),
                "client_lag_ms_max_while_asking": round(max(own_lag, default=0.0), 1),
                "first_chunk_ms_p50": round(1000 * _pct(firsts, 0.5), 1),
                "first_chunk_ms_max": round(1000 * max(firsts), 1),
                "ask_ms_p50": round(1000 * _pct([t.asked_s for t in tabs], 0.5), 1),
                "ask_ms_max": round(1000 * max(t.asked_s for t in tabs), 1),
            },
        }
    finally:
        server.terminate()
        fake.terminate()
        server.wait(30)
        fake.wait(30)


async def measure_llama() -> dict[str, Any]:
    from productdemo.config import LlmSettings
    from productdemo.services.chat.events import Source
    from productdemo.services.chat.generators import Passage, Tally
    from productdemo.services.chat.llama import LlamaGenerator

    sentence = "The harbour warehouse ships parcels every Tuesday and refunds take five business days. "

    def passages(run: int) -> list[Passage]:
        # A different text per run: llama.cpp reuses a cached prompt prefix, which would hide
        # the prompt evaluation a new question costs.
        return [
            Passage(
                Source(
                    n=n,
                    document_id="d",
                    filename=f"f{n}.md",
                    chunk_index=n,
                    page=None,
                    section=None,
                    start=0,
                    end=0,
                    quote="",
                ),
                f"Report {run}.{n}: " + sentence * 8,
            )
            for n in range(1, 5)
        ]

    generator = LlamaGenerator(LlmSettings(provider="llama", max_tokens=128, stall_timeout=300))
    t0 = time.perf_counter()
    async for _ in generator.stream("warm up", passages(0)[:1], Tally()):
        break
    load = time.perf_counter() - t0
    runs = []
    for run in range(1, 4):
        tally = Tally()
        start = time.perf_counter()
        first = None
        question = "When do parcels ship and how long do refunds take?"
        async for _piece in generator.stream(question, passages(run), tally):
            first = first or time.perf_counter()
        end = time.perf_counter()
        assert first is not None and tally.completion_tokens
        runs.append((first - start, (tally.completion_tokens - 1) / (end - first), tally.prompt_tokens))
    await generator.close()
    return {
        "load_and_first_call_s": round(load, 2),
        "prompt_tokens": runs[-1][2],
        "ttft_s": [round(r[0], 2) for r in runs],
        "generation_tokens_per_s": [round(r[1], 1) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--llama", action="store_true")
    parser.add_argument(
        "--postgres",
        default="",
        help="run the server on PostgreSQL, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432",
    )
    parser.add_argument(
        "--ask-process",
        action="store_true",
        help="post the load's questions from a second process (this one only reads the sockets)",
    )
    parser.add_argument("--serve-fake", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--asker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        asyncio.run(serve_fake(args.serve_fake, args.tokens, args.rate))
        return
    if args.asker:
        asyncio.run(ask_all())
        return
    result: dict[str, Any] = {
        "load_average": os.getloadavg(),
        "database": "postgresql" if args.postgres else "sqlite",
    }
    if args.llama:
        result["llama"] = asyncio.run(asyncio.wait_for(measure_llama(), 600))
    else:
        with tempfile.TemporaryDirectory() as work:
            result.update(asyncio.run(asyncio.wait_for(measure(args, Path(work)), 300)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
