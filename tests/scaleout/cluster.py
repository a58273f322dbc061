"""Real ``productdemo serve`` processes: several sharing PostgreSQL and Redis, or one on SQLite.

A :class:`Cluster` starts instances as subprocesses with the environment a deployment
would give them, waits for ``/api/ready``, creates users with the ``productdemo users``
command and signs them in over HTTP. Every process is terminated by :meth:`Cluster.close`;
every wait is bounded. Each instance's stderr goes to a file whose tail
:meth:`Cluster.logs` returns for assertion messages, its stdout to another
(:meth:`Instance.output`).

This is the one way tests run ``serve`` as a process (TLS, signals, the command line, a
schema fuzzer calling synchronously); in-process servers are ``tests.support.LiveServer``.
Without a database URL the cluster is one instance on SQLite in a shared data directory,
with the in-process broker.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support import MS, PASSWORD
from tests.tls import Certificate

PRODUCTDEMO = Path(sys.executable).parent / "productdemo"
REPO = Path(__file__).resolve().parent.parent.parent

Frame = dict[str, Any]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Instance:
    """One ``productdemo serve`` process."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path  # stderr
    out: Path  # stdout
    tls: Certificate | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        # Same-origin default: each instance accepts only its own host:port as Origin.
        return self.url

    @property
    def client_context(self) -> ssl.SSLContext | None:
        """A client context that trusts this instance's certificate (None without TLS)."""
        return self.tls.client_context() if self.tls else None

    def client(self, cookie: str | None = None) -> httpx.AsyncClient:
        headers = {"Origin": self.origin}
        if cookie is not None:
            headers["Cookie"] = f"connect.sid={cookie}"
        return httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=10, verify=self.client_context or True
        )

    def connect(self, cookie: str, **kwargs: Any) -> Any:
        """A socket for ``/ws``; with TLS it verifies the certificate unless ``ssl`` is given."""
        if self.tls is not None:
            kwargs.setdefault("ssl", self.client_context)
        return connect(
            f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/ws",
            additional_headers={"Cookie": f"connect.sid={cookie}", "Origin": self.origin},
            origin=None,
            open_timeout=5,
            close_timeout=2,
            max_queue=None,
            **kwargs,
        )

    def output(self) -> str:
        """What the process printed to stdout so far."""
        return self.out.read_text(errors="replace")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Cluster:
    """Instances sharing a database, a broker (with a key prefix) and an uploads directory."""

    root: Path
    database_url: str = ""  # empty: SQLite in the shared data directory (one instance)
    broker_url: str = ""  # empty: the in-process broker
    prefix: str = ""
    tls: Certificate | None = None  # serve HTTPS and WSS with it (``serve --ssl-*``)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    instances: list[Instance] = field(default_factory=list)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def env(self, instance_id: str, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRODUCTDEMO_")}
        if env.pop("PYTHONDONTWRITEBYTECODE", None):
            # Without bytecode each process compiles the whole stack from source (seconds
            # each); cache it in the temp directory instead, outside the working tree.
            env["PYTHONPYCACHEPREFIX"] = str(
                Path(tempfile.gettempdir()) / f"productdemo-pycache-{os.getuid()}"
            )
        if self.prefix:
            env["PRODUCTDEMO_BROKER_PREFIX"] = self.prefix
        env.update(
            PRODUCTDEMO_DATABASE_URL=self.database_url,
            PRODUCTDEMO_BROKER_URL=self.broker_url,
            # With PostgreSQL a data directory of its own per instance: they share only
            # PostgreSQL and Redis. SQLite lives in the data directory, so it is shared.
            PRODUCTDEMO_STORAGE_DATA_DIR=str(self.data_dir(instance_id)),
            PRODUCTDEMO_SERVER_INSTANCE_ID=instance_id,
            PRODUCTDEMO_SECURITY_SECRET_KEY=self.secret,
            PRODUCTDEMO_SECURITY_ARGON2_TIME_COST="1",
            PRODUCTDEMO_SECURITY_ARGON2_MEMORY_KIB="1024",
            PRODUCTDEMO_SECURITY_LOGIN_MAX_FAILURES="50",
            PRODUCTDEMO_SERVER_CLIENT_DIR=str(self.root / "no-client"),
            PRODUCTDEMO_DOCUMENTS_LEASE_SECONDS="2",
            PRODUCTDEMO_DOCUMENTS_POLL_INTERVAL="0.2",
            # The deterministic embedder: these tests are about instances, not meaning.
            PRODUCTDEMO_RETRIEVAL_MODEL="hashing",
        )
        env.update(extra)
        return env

    def data_dir(self, instance_id: str) -> Path:
        return self.root / (f"data-{instance_id}" if self.database_url else "data")

    # --- users ------------------------------------------------------------------------

    async def cli(self, *args: str, stdin: str = "") -> str:
        """Run ``productdemo <args>`` with the cluster's environment; returns stdout."""
        proc = await asyncio.create_subprocess_exec(
            str(PRODUCTDEMO),
            *args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
            env=self.env("cli", {}),
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            raise AssertionError(f"productdemo {' '.join(args)} failed: {err.decode()[-2000:]}")
        return out.decode()

    async def create_user(self, name: str, role: str = "user") -> int:
        """Create an account with ``productdemo users create``; returns its id."""
        out = await self.cli(
            "users", "create", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n"
        )
        # "created NAME (ROLE), id N"
        return int(out.strip().rsplit(" ", 1)[1])

    async def login(self, instance: Instance, username: str) -> str:
        """Sign in over HTTP on ``instance``; returns the ``connect.sid`` cookie value."""
        async with instance.client() as http:
            response = await http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, (response.status_code, response.text, self.logs())
        cookie: str = response.cookies["connect.sid"]
        return cookie

    # --- instances --------------------------------------------------------------------

    async def start(self, count: int = 1, **extra: str) -> list[Instance]:
        """Start ``count`` instances (extra env: ``PRODUCTDEMO_...=value``) and wait until ready."""
        started = []
        for _ in range(count):
            n = next(self._numbers)
            port = free_port()
            log, out = self.root / f"inst-{n}.log", self.root / f"inst-{n}.out"
            args = ["--port", str(port)]
            if self.tls is not None:
                args += ["--ssl-certfile", str(self.tls.certfile), "--ssl-keyfile", str(self.tls.keyfile)]
            with log.open("wb") as err, out.open("wb") as stdout:
                proc = subprocess.Popen(
                    [str(PRODUCTDEMO), "serve", *args],
                    cwd=REPO,
                    env=self.env(f"inst-{n}", extra),
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=err,
                )
            instance = Instance(f"inst-{n}", port, proc, log, out, self.tls)
            self.instances.append(instance)
            started.append(instance)
        await asyncio.gather(*(self.wait_ready(i) for i in started))
        return started

    async def wait_ready(self, instance: Instance, timeout: float = 30_000 * MS) -> None:
        deadline = time.monotonic() + timeout
        verify = instance.client_context or True
        async with httpx.AsyncClient(base_url=instance.url, timeout=2, verify=verify) as http:
            while time.monotonic() < deadline:
                if not instance.alive:
                    raise AssertionError(f"{instance.name} exited:\n{tail(instance.log)}")
                try:
                    if (await http.get("/api/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{instance.name} not ready after {timeout} s:\n{tail(instance.log)}")

    async def kill(self, instance: Instance) -> None:
        """SIGKILL: the instance dies without releasing anything."""
        if instance.alive:
            instance.proc.send_signal(signal.SIGKILL)
        await self._wait_exit(instance, 5)

    async def stop(self, instance: Instance) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 8 s."""
        if instance.alive:
            instance.proc.send_signal(signal.SIGTERM)
            if not await self._wait_exit(instance, 8):
                instance.proc.kill()
                await self._wait_exit(instance, 5)

    async def _wait_exit(self, instance: Instance, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while instance.proc.poll() is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def close(self) -> None:
        await asyncio.gather(*(self.stop(i) for i in self.instances))

    async def expect(self, wait: Awaitable[T]) -> T:
        """Await ``wait``; if it fails, add every instance's log tail to the message."""
        try:
            return await wait
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def logs(self, lines: int = 25) -> str:
        """The tail of every instance's stderr, for assertion messages."""
        return "".join(f"\n--- {i.name} (port {i.port}) ---\n{tail(i.log, lines)}" for i in self.instances)


class Tab:
    """A browser tab's socket: a reader task keeps every frame, in arrival order."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.frames: list[Frame] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._last = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._read())
        self._ids = itertools.count(1)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                self.frames.append(orjson.loads(message))
                self._last = time.monotonic()
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()

    @property
    def hello(self) -> Frame:
        assert self.frames and self.frames[0]["type"] == "hello", self.frames[:3]
        return self.frames[0]

    def position(self, stream: str) -> tuple[str, int]:
        """The stream's (epoch, seq) in this tab's hello."""
        pos = self.hello["payload"]["streams"][stream]
        return pos["epoch"], pos["seq"]

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout: float = 5000 * MS) -> Frame:
        """The first frame (since connecting) that matches ``predicate``."""
        seen = 0
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for frame in self.frames[seen:]:
                        if predicate(frame):
                            return frame
                    seen = len(self.frames)
                    if self.closed.is_set():
                        raise AssertionError(
                            f"{self.name} closed ({self.ws.close_code}) before the frame came"
                        )
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no such frame within {timeout} s; got {self.frames[-8:]}"
            ) from None

    async def wait_count(
        self, predicate: Callable[[Frame], bool], count: int, timeout: float = 5000 * MS
    ) -> None:
        async with asyncio.timeout(timeout):
            while sum(map(predicate, self.frames)) < count:
                if self.closed.is_set():
                    raise AssertionError(f"{self.name} closed ({self.ws.close_code})")
                self._changed.clear()
                await self._changed.wait()

    async def closed_with(self, code: int, reason: str, timeout: float = 5000 * MS) -> None:
        """Wait until the server closed this socket; assert its close code and reason."""
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name} still open after {timeout} s") from None
        assert (self.ws.close_code, self.ws.close_reason) == (code, reason), self.name

    async def quiet(self, period: float = 300 * MS, timeout: float = 5000 * MS) -> None:
        """Wait until no frame has arrived for ``period`` (so late duplicates would show)."""
        async with asyncio.timeout(timeout):
            while (idle := time.monotonic() - self._last) < period:
                await asyncio.sleep(period - idle)

    async def request(self, kind: str, payload: Frame | None = None, timeout: float = 5000 * MS) -> Frame:
        """Send a client frame with a fresh id; returns the reply (ack, error, pong) with that id."""
        frame_id = f"{self.name}-{next(self._ids)}"
        frame: Frame = {"type": kind, "id": frame_id}
        if payload is not None:
            frame["payload"] = payload
        await self.ws.send(orjson.dumps(frame).decode())
        return await self.wait_for(lambda f: f.get("id") == frame_id, timeout)

    def events(self, kind: str | None = None, stream: str | None = None) -> list[Frame]:
        return [
            f
            for f in self.frames
            if "seq" in f
            and (kind is None or f["type"] == kind)
            and (stream is None or f["stream"] == stream)
        ]

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except (TimeoutError, OSError):
            self.ws.transport.abort()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class Tabs:
    """Opens tabs for a test and closes every one of them afterwards."""

    def __init__(self) -> None:
        self.opened: list[Tab] = []

    async def open(
        self, instance: Instance, cookie: str, name: str = "", topics: tuple[str, ...] = ()
    ) -> Tab:
        """Connect to ``instance``, wait for ``hello``, subscribe to ``topics`` (acks awaited)."""
        ws = await instance.connect(cookie)
        tab = Tab(ws, name or f"tab{len(self.opened) + 1}@{instance.name}")
        self.opened.append(tab)
        await tab.wait_for(lambda f: f["type"] == "hello")
        for topic in topics:
            reply = await tab.request("subscribe", {"topic": topic})
            assert reply["type"] == "ack", reply
        return tab

    async def close(self) -> None:
        await asyncio.gather(*(tab.close() for tab in self.opened))


class PrivateRedis:
    """A redis-server of the test's own on a free port, which the test may stop and restart."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        await _run(
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(self.root),
            "--pidfile",
            str(self.root / "redis.pid"),
            "--logfile",
            str(self.root / "redis.log"),
        )
        deadline = time.monotonic() + 5
        while not await self.ping():
            if time.monotonic() > deadline:
                raise AssertionError(f"private redis did not start:\n{tail(self.root / 'redis.log')}")
            await asyncio.sleep(0.05)

    async def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    async def stop(self) -> None:
        """Shut it down without saving; wait (bounded) until the port refuses connections."""
        if await self.ping():
            await _run("redis-cli", "-p", str(self.port), "shutdown", "nosave", check=False)
        deadline = time.monotonic() + 5
        while await self.ping():
            if time.monotonic() > deadline:
                self._kill_by_pidfile()
                break
            await asyncio.sleep(0.05)

    def _kill_by_pidfile(self) -> None:
        try:
            os.kill(int((self.root / "redis.pid").read_text().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass


async def _run(*args: str, check: bool = True) -> None:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {err.decode()}")
