"""Test helpers: build configs, run the real app under uvicorn on port 0, sign in, connect.

Time in tests is a multiple of ``MS``; set PRODUCTDEMO_TEST_TIME_SCALE on a slow machine.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import uvicorn
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect

from productdemo.app import Application, create_app
from productdemo.config import Config, load_config
from productdemo.server import uvicorn_config
from productdemo.storage.database import upgrade

MS = 0.001 * float(os.environ.get("PRODUCTDEMO_TEST_TIME_SCALE", "1"))
# Set (e.g. to postgresql+asyncpg://postgres@127.0.0.1:5432) to run every server of the suite
# on PostgreSQL, each with a database of its own, instead of SQLite.
POSTGRES_URL = os.environ.get("PRODUCTDEMO_TEST_POSTGRES_URL", "")
PASSWORD = "correct horse battery"
_names = itertools.count(1)


StartServer = Callable[..., Awaitable["LiveServer"]]


def make_config(data_dir: Path, **sections: dict[str, Any]) -> Config:
    """A config for tests: data in ``data_dir``, built-in defaults, fast heartbeats off."""
    overrides: dict[str, dict[str, Any]] = {
        "database": {"url": new_database(POSTGRES_URL) if POSTGRES_URL else ""},
        "storage": {"data_dir": str(data_dir)},
        "server": {"client_dir": str(data_dir / "no-client")},
        # Cheap password hashes: tests sign in hundreds of times.
        "security": {"login_max_failures": 50, "argon2_time_cost": 1, "argon2_memory_kib": 1024},
        # The deterministic embedder: tests that need meaning ask for "minilm" (the real model).
        "retrieval": {"model": "hashing"},
    }
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    return load_config(Path(__file__).parent.parent / "conf" / "config.ini", environ={}, overrides=overrides)


def new_database(server_url: str) -> str:
    """A URL for a fresh database on the PostgreSQL server ``server_url`` (created on start)."""
    url = make_url(server_url).set(database=f"pdtest_{uuid.uuid4().hex[:12]}")
    return url.render_as_string(hide_password=False)


def _server_and_name(url: str) -> tuple[str, str]:
    """An asyncpg DSN for the server's ``postgres`` database, and the name of ``url``'s database.

    URLs may name a unix socket directory (``?host=/path``), as pgserver's do.
    """
    parsed = make_url(url)
    server = parsed.set(drivername="postgresql", database="postgres")
    return server.render_as_string(hide_password=False), parsed.database or ""


async def create_database(url: str) -> None:
    """Create the PostgreSQL database ``url`` names, if it is one and does not exist."""
    if not url.startswith("postgresql"):
        return
    server, name = _server_and_name(url)
    conn = await asyncpg.connect(server)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    server, name = _server_and_name(url)
    conn = await asyncpg.connect(server)
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


def unique_name(prefix: str = "user") -> str:
    return f"{prefix}{next(_names)}_{os.getpid()}"


class LiveServer:
    """The real application under uvicorn, in this event loop, on a free loopback port."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app: Application | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def tls(self) -> bool:
        return self.config.server.tls_certfile is not None

    @property
    def http_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/ws"

    @property
    def origin(self) -> str:
        return self.http_url

    async def start(self) -> None:
        await create_database(self.config.database_url)
        await upgrade(self.config.database_url)
        self.app = create_app(self.config)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        # The event loop is the test's own: no uvloop switch, and a short grace period.
        uv_config = uvicorn_config(self.app, self.config, loop="none", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(uv_config)
        self._task = asyncio.get_running_loop().create_task(self._server._serve(sockets=[sock]))
        for _ in range(500):
            if self._server.started:
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise RuntimeError("server did not start")

    async def stop(self, keep_database: bool = False) -> None:
        """Stop serving and drop a PostgreSQL database, unless it is kept for a restart."""
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task
        if not keep_database:
            await drop_database(self.config.database_url)

    @property
    def services(self) -> Any:
        assert self.app is not None
        return self.app.services

    async def create_user(self, role: str = "user", name: str | None = None) -> tuple[int, str]:
        """Create an account; returns its id and name (password ``PASSWORD``)."""
        user = await self.services.users.create(name or unique_name(role), PASSWORD, role)
        return user.id, user.username

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Origin": self.origin, **kwargs.pop("headers", {})}
        return httpx.AsyncClient(base_url=self.http_url, headers=headers, **kwargs)

    async def login(self, username: str, password: str = PASSWORD) -> str:
        """Sign in over HTTP; returns the ``connect.sid`` cookie value."""
        async with self.client() as http:
            response = await http.post("/api/auth/login", json={"username": username, "password": password})
            response.raise_for_status()
            return response.cookies["connect.sid"]

    async def user_session(self, role: str = "user") -> tuple[int, str]:
        """A new user, signed in: (user id, cookie)."""
        user_id, name = await self.create_user(role)
        return user_id, await self.login(name)

    def connect(self, cookie: str | None, origin: str | None = "default", **kwargs: Any) -> Any:
        """A WebSocket client for ``/ws`` with the cookie and Origin a browser would send."""
        headers = {}
        if cookie is not None:
            headers["Cookie"] = f"connect.sid={cookie}"
        if origin is not None:
            headers["Origin"] = self.origin if origin == "default" else origin
        return connect(self.ws_url, additional_headers=headers, origin=None, **kwargs)


async def close_of(ws: ClientConnection, timeout: float = 1000 * MS) -> tuple[int | None, str | None]:
    """Wait until the server has closed ``ws``; the close code and reason it sent."""
    await asyncio.wait_for(ws.wait_closed(), timeout)
    return ws.close_code, ws.close_reason


async def recv_json(ws: ClientConnection, timeout: float = 2000 * MS) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), timeout)
    value: dict[str, Any] = orjson.loads(message)
    return value


async def recv_type(ws: ClientConnection, kind: str, timeout: float = 2000 * MS) -> dict[str, Any]:
    """The next frame of type ``kind``, skipping others (e.g. presence events)."""
    while True:
        frame = await recv_json(ws, timeout)
        if frame["type"] == kind:
            return frame


async def send_json(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(frame).decode())


class RawClient:
    """A bare-socket WebSocket client that reads only when told to: a slow or dead peer.

    It answers no pings and, with a small receive buffer, lets the server's send
    buffers fill up, which is what a stalled browser tab looks like from the server.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, server: LiveServer, cookie: str, rcvbuf: int = 4096) -> RawClient:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**24)
        writer.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: {server.origin}\r\n"
                f"Cookie: connect.sid={cookie}\r\n\r\n"
            ).encode()
        )
        status = await reader.readuntil(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 101"), status
        return cls(reader, writer)

    async def read_frames(self, timeout: float = 5000 * MS) -> list[tuple[int, bytes]]:
        """Read until a close frame or EOF; returns the (opcode, payload) frames."""
        frames: list[tuple[int, bytes]] = []
        buf = b""
        async with asyncio.timeout(timeout):
            while not frames or frames[-1][0] != 8:
                chunk = await self.reader.read(65536)
                if not chunk:
                    break
                buf += chunk
                while (parsed := parse_frame(buf)) is not None:
                    frames.append(parsed[0])
                    buf = buf[parsed[1] :]
        return frames

    def close(self) -> None:
        self.writer.close()


class RecordingTransport:
    """The socket end of a connection in unit tests: it keeps what the server wrote, as the
    transport would send it, and how it was closed."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def write(self, data: bytes) -> bool:
        self.written.append(data)
        return True

    def writable_now(self) -> bool:
        return True

    def close_now(self, code: int, reason: str = "") -> None:
        self.closed = (code, reason)


def close_code(frames: list[tuple[int, bytes]]) -> int | None:
    """The code of the close frame among ``frames``, if any."""
    for opcode, payload in frames:
        if opcode == 8:
            return int.from_bytes(payload[:2], "big")
    return None


def parse_frame(buf: bytes) -> tuple[tuple[int, bytes], int] | None:
    """One unmasked frame from the start of ``buf`` and its size, or None if incomplete."""
    if len(buf) < 2:
        return None
    opcode, length, pos = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if length >= 126:
        size = 2 if length == 126 else 8
        if len(buf) < pos + size:
            return None
        length = int.from_bytes(buf[pos : pos + size], "big")
        pos += size
    if len(buf) < pos + length:
        return None
    return (opcode, buf[pos : pos + length]), pos + length


def client_frame(
    opcode: int, payload: bytes = b"", fin: bool = True, mask: bytes = b"\x01\x02\x03\x04"
) -> bytes:
    """One masked frame as a client sends it (RFC 6455 5.2), any opcode, final or not."""
    n = len(payload)
    head = bytes(((0x80 if fin else 0) | opcode,))
    if n < 126:
        head += bytes((0x80 | n,))
    elif n < 65536:
        head += b"\xfe" + n.to_bytes(2, "big")
    else:
        head += b"\xff" + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
