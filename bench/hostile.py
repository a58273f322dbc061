# ruff: noqa: T201
"""Issue 13: what hostile clients cost the server: memory under each flood, others' latency during it.

Starts ``python -m productdemo serve`` (from ``--src`` if given, e.g. an export of an older
commit, so the same script measures before and after), signs in a calm user and an
attacker, and runs each scenario for ``--seconds`` while the calm user's socket sends an
app-level ``ping`` every 100 ms. For every scenario it prints one JSON line: the server's
peak RSS growth, the calm user's ping round trip (p50, p99, max), and what the attacker
got (closes, answers, bytes sent before an answer).

Usage: .venv/bin/python bench/hostile.py --label after [--src DIR] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from wsclient import WebSocket, rss_kib

PASSWORD = "correct horse battery"


def frame(opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    """A client frame masked with a zero key (the payload stays as is)."""
    n = len(payload)
    head = (
        bytes(((0x80 if fin else 0) | opcode, 0x80 | n))
        if n < 126
        else bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
    )
    return head + b"\0\0\0\0" + payload


class Server:
    def __init__(self, src: str | None, data: Path) -> None:
        self.port = _free_port()
        self.env = {
            **os.environ,
            "PRODUCTDEMO_STORAGE_DATA_DIR": str(data),
            "PRODUCTDEMO_SECURITY_ARGON2_TIME_COST": "1",
            "PRODUCTDEMO_SECURITY_ARGON2_MEMORY_KIB": "1024",
            "PRODUCTDEMO_SECURITY_LOGIN_MAX_FAILURES": "1000",
            "PRODUCTDEMO_SERVER_CLIENT_DIR": str(data / "none"),
        }
        if src:
            self.env["PYTHONPATH"] = src
        self.log_path = data / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def run(self, *args: str, stdin: str = "") -> None:
        subprocess.run(
            [sys.executable, "-m", "productdemo", *args],
            input=stdin.encode(),
            env=self.env,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self.log = self.log_path.open("wb")
        cmd = [sys.executable, "-m", "productdemo", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def login(port: int, name: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"username": name, "password": PASSWORD}).encode()
    writer.write(
        f"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    answer = await reader.read()
    writer.close()
    for line in answer.split(b"\r\n"):
        if line.lower().startswith(b"set-cookie: connect.sid="):
            return line.split(b"=", 1)[1].split(b";")[0].decode()
    raise RuntimeError(answer[:200])


async def raw_upgrade(
    port: int, cookie: str, rcvbuf: int = 4096
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: http://127.0.0.1:{port}\r\nCookie: connect.sid={cookie}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        raise ConnectionError(head[:60])
    return reader, writer


async def stream_forever(port: int, cookie: str, prefix: bytes, unit: bytes, stats: dict[str, Any]) -> None:
    """Write ``unit`` frames as fast as the socket takes them, never reading; reconnect when closed."""
    batch = unit * max(1, 65536 // len(unit))
    while True:
        try:
            _, writer = await raw_upgrade(port, cookie)
        except (ConnectionError, OSError):
            stats["refused"] = stats.get("refused", 0) + 1
            await asyncio.sleep(0.05)
            continue
        try:
            writer.write(prefix)
            while True:
                writer.write(batch)
                stats["bytes"] = stats.get("bytes", 0) + len(batch)
                await asyncio.wait_for(writer.drain(), 5)
        except (ConnectionError, OSError, TimeoutError):
            stats["closed"] = stats.get("closed", 0) + 1
        finally:
            writer.close()


async def invalid_utf8(port: int, cookie: str, stats: dict[str, Any]) -> None:
    while True:
        try:
            reader, writer = await raw_upgrade(port, cookie)
            writer.write(frame(1, b"\xff\xfe\x80"))
            await asyncio.wait_for(reader.read(), 5)
            stats["closed"] = stats.get("closed", 0) + 1
            writer.close()
        except (ConnectionError, OSError, TimeoutError):
            stats["errors"] = stats.get("errors", 0) + 1


PART = (
    b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\n"
)


async def big_body(port: int, head: str, size: int, chunked: bool, stats: dict[str, Any]) -> None:
    """Send ``size`` bytes of body as fast as possible; note the answer and how much was sent by then.

    An upload's body is a well-formed multipart part that never ends.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode())
    if "multipart" in head:
        writer.write(f"{len(PART):x}\r\n".encode() + PART + b"\r\n" if chunked else PART)
    answer = asyncio.create_task(reader.read(200))
    started, sent, piece = time.monotonic(), 0, b"x" * 65536
    stats.update(answer="none during the run", sent_mib=0.0)
    try:
        while sent < size and not answer.done():
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            await writer.drain()
            sent += len(piece)
            stats["sent_mib"] = round(sent / 2**20, 1)
        status = (await asyncio.wait_for(answer, 30)).split(b"\r\n", 1)[0].decode()
    except (ConnectionError, OSError, TimeoutError) as exc:
        status = type(exc).__name__
    stats.update(answer=status, sent_mib=round(sent / 2**20, 1), seconds=round(time.monotonic() - started, 2))
    writer.close()


async def many_sockets(port: int, cookie: str, stats: dict[str, Any]) -> None:
    opened: list[asyncio.StreamWriter] = []
    stats.update(accepted=0, refused=0)
    try:
        for _ in range(1000):
            try:
                opened.append((await raw_upgrade(port, cookie, rcvbuf=65536))[1])
                stats["accepted"] += 1
            except (ConnectionError, OSError):
                stats["refused"] += 1
        await asyncio.sleep(3600)
    finally:
        for writer in opened:
            writer.close()


async def slow_head(port: int, stats: dict[str, Any], limit: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    for byte in (
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Slow: " + b"a" * 1000
    ):
        if reader.at_eof() or time.monotonic() - started > limit:
            break
        try:
            writer.write(bytes((byte,)))
            await asyncio.wait_for(reader.read(100), 1)
            break
        except TimeoutError:
            continue
        except ConnectionError:
            break
    held = time.monotonic() - started
    stats["held_s"] = round(held, 1) if held < limit else f">{limit:.0f} (still open)"
    writer.close()


async def big_cookie(port: int, stats: dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Origin: http://127.0.0.1:{port}\r\nCookie: connect.sid={'A' * 8192}\r\n\r\n".encode()
    )
    try:
        answer = await asyncio.wait_for(reader.read(), 4)
        stats["answer"] = answer.split(b"\r\n", 1)[0].decode() or "closed without an answer"
    except TimeoutError:
        stats["answer"] = "no answer in 4 s"
    writer.close()


async def measure(
    server: Server,
    calm: WebSocket,
    name: str,
    attack: Callable[[dict[str, Any]], Awaitable[None]],
    seconds: float,
) -> dict[str, Any]:
    assert server.proc is not None
    pid = server.proc.pid
    base, peak, rtts, stats = rss_kib(pid), 0, [], {}
    log_before = server.log_path.stat().st_size
    task = asyncio.create_task(attack(stats))
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        started = time.monotonic()
        calm.send({"type": "ping", "id": str(n)})
        try:
            while (await asyncio.wait_for(calm.recv_json(), 10)).get("type") != "pong":
                pass
            rtts.append((time.monotonic() - started) * 1000)
        except TimeoutError:
            rtts.append(10_000.0)
        peak = max(peak, rss_kib(pid))
        n += 1
        await asyncio.sleep(0.1)  # 10 pings a second: within the calm user's rate limit
    task.cancel()
    await asyncio.wait([task], timeout=10)
    await asyncio.sleep(1)
    log = server.log_path.read_bytes()[log_before:]
    rtts.sort()
    return {
        "scenario": name,
        "rss_growth_mib": round((peak - base) / 1024, 1),
        "ping_p50_ms": round(statistics.median(rtts), 1),
        "ping_p99_ms": round(rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))], 1),
        "ping_max_ms": round(rtts[-1], 1),
        "log_kib": round(len(log) / 1024, 1),
        "tracebacks": log.count(b"Traceback"),
        **stats,
    }


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(args.src, Path(tmp))
        for name in ("calm", "attacker", "other"):
            server.run("users", "create", name, "--role", "user", "--password-stdin", stdin=PASSWORD + "\n")
        server.start()
        try:
            port = server.port
            calm_cookie, cookie = await login(port, "calm"), await login(port, "attacker")
            other = await login(port, "other")
            calm = await WebSocket.connect(port, calm_cookie)
            await calm.recv_json()
            s = args.seconds
            login_head = (
                f"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {64 << 20}\r\n\r\n"
            )
            upload_head = (
                f"POST /api/documents HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
            )
            scenarios: list[tuple[str, Callable[[dict[str, Any]], Awaitable[None]]]] = [
                ("idle", lambda st: asyncio.sleep(3600)),
                (
                    "empty continuation frames",
                    lambda st: stream_forever(
                        port, cookie, frame(1, b"{", fin=False), frame(0, fin=False), st
                    ),
                ),
                ("empty pings, never reading", lambda st: stream_forever(port, cookie, b"", frame(9), st)),
                (
                    "125-byte pings, never reading",
                    lambda st: stream_forever(port, cookie, b"", frame(9, b"p" * 125), st),
                ),
                ("invalid UTF-8 text frames", lambda st: invalid_utf8(port, cookie, st)),
                (
                    "64 MiB login body, unauthenticated",
                    lambda st: big_body(
                        port,
                        login_head,
                        64 << 20,
                        False,
                        st,
                    ),
                ),
                (
                    "48 MiB chunked upload, unauthenticated",
                    lambda st: big_body(
                        port, upload_head + "Transfer-Encoding: chunked\r\n\r\n", 48 << 20, True, st
                    ),
                ),
                (
                    "700 MiB declared upload, signed in",
                    lambda st: big_body(
                        port,
                        upload_head + f"Cookie: connect.sid={other}\r\nContent-Length: {700 << 20}\r\n\r\n",
                        64 << 20,
                        False,
                        st,
                    ),
                ),
                ("1,000 sockets for one user", lambda st: many_sockets(port, cookie, st)),
                ("upgrade head one byte a second", lambda st: slow_head(port, st, 15)),
                ("8 KiB cookie on the upgrade", lambda st: big_cookie(port, st)),
            ]
            for name, attack in scenarios:
                if args.only and args.only not in name:
                    continue
                seconds = 16 if "byte a second" in name else s
                result = {"label": args.label, **await measure(server, calm, name, attack, seconds)}
                print(json.dumps(result), flush=True)
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--label", required=True)
    parser.add_argument("--src", help="source directory to run the server from (PYTHONPATH)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
