"""The ``productdemo`` command, run as a subprocess: users commands and a running ``serve``."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from productdemo.services.users.passwords import Passwords
from productdemo.services.users.service import UserService
from productdemo.services.users.sessions import SessionStore
from productdemo.storage.database import create_engine, create_session_factory
from tests.support import MS, PASSWORD, make_config, recv_type

ROOT = Path(__file__).parent.parent
PRODUCTDEMO = Path(sys.executable).with_name("productdemo")
ADMIN_PASSWORD = re.compile(r"Created user 'admin' with the one-time password: (\S+)")


def _env(data_dir: Path) -> dict[str, str]:
    """The environment of every command: its own data directory, cheap hashes, quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODUCTDEMO_")}
    env.update(
        PRODUCTDEMO_STORAGE_DATA_DIR=str(data_dir),
        PRODUCTDEMO_SECURITY_ARGON2_TIME_COST="1",
        PRODUCTDEMO_SECURITY_ARGON2_MEMORY_KIB="1024",
        PRODUCTDEMO_LOGGING_LEVEL="WARNING",
    )
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        # Without bytecode each of these processes compiles the whole stack from source
        # (seconds each); cache it in the temp directory instead, outside the working tree.
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / f"productdemo-pycache-{os.getuid()}")
    return env


async def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``productdemo *args`` from the repository root and wait for it."""
    return await asyncio.to_thread(
        subprocess.run,
        [str(PRODUCTDEMO), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    """A ``productdemo serve`` process and what it printed."""

    process: subprocess.Popen[bytes]
    port: int
    stdout: Path
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.stdout.read_text(encoding="utf-8")


async def start_serve(env: dict[str, str], log_dir: Path) -> Served:
    """Start ``productdemo serve`` on a free port and wait until it answers HTTP."""
    port = _free_port()
    stdout = log_dir / f"serve-{port}.out"
    with stdout.open("wb") as out, (log_dir / f"serve-{port}.err").open("wb") as err:
        process = subprocess.Popen(
            [str(PRODUCTDEMO), "serve", "--port", str(port)], stdout=out, stderr=err, env=env, cwd=ROOT
        )
    served = Served(process, port, stdout, Path(env["PRODUCTDEMO_STORAGE_DATA_DIR"]))
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=served.url) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                errors = (log_dir / f"serve-{port}.err").read_text(encoding="utf-8")
                raise AssertionError(f"serve exited with {process.returncode}: {served.output()}{errors}")
            try:
                await http.get("/api/auth/me")
                return served
            except httpx.TransportError:
                await asyncio.sleep(50 * MS)
    await stop_serve(served)
    raise AssertionError("serve did not answer within 60 s")


async def stop_serve(served: Served) -> None:
    served.process.terminate()
    try:
        await asyncio.to_thread(served.process.wait, 10)
    except subprocess.TimeoutExpired:
        served.process.kill()
        await asyncio.to_thread(served.process.wait)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def env(data_dir: Path) -> dict[str, str]:
    return _env(data_dir / "data")


@pytest.fixture(scope="module")
async def served(env: dict[str, str], data_dir: Path) -> AsyncIterator[Served]:
    """``productdemo serve`` started on an empty database, shared by this module's tests."""
    live = await start_serve(env, data_dir)
    try:
        yield live
    finally:
        await stop_serve(live)


@pytest.fixture(scope="module")
async def users(served: Served) -> AsyncIterator[UserService]:
    """The accounts service on the served database (after serve made admin), to set up users quickly."""
    # The served process runs on SQLite in its data dir, whatever database the suite uses.
    config = make_config(served.data_dir, database={"url": ""})
    engine = create_engine(config.database_url)
    db = create_session_factory(engine)
    yield UserService(db, SessionStore(db, config.secret_key(), 1), Passwords(time_cost=1, memory_kib=1024))
    await engine.dispose()


async def _login(served: Served, username: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=served.url, headers={"Origin": served.url}) as http:
        return await http.post("/api/auth/login", json={"username": username, "password": password})


def _socket(served: Served, cookie: str) -> connect:
    headers = {"Cookie": f"connect.sid={cookie}", "Origin": served.url}
    return connect(f"ws://127.0.0.1:{served.port}/ws", additional_headers=headers, origin=None)


async def test_serve_prints_a_working_admin_password_once(served: Served) -> None:
    """On an empty database serve prints one one-time admin password, and it signs admin in."""
    output = served.output()
    match = ADMIN_PASSWORD.search(output)
    assert match is not None
    assert output == (
        f"\n  Created user 'admin' with the one-time password: {match[1]}\n"
        "  Sign in and change it: productdemo users set-password admin\n\n"
        f"ProductDemo on http://127.0.0.1:{served.port}\n"
    )
    response = await _login(served, "admin", match[1])
    assert response.status_code == 200
    assert response.json()["user"] == {"id": 1, "username": "admin", "role": "admin"}


async def test_second_start_prints_no_password(served: Served, env: dict[str, str], data_dir: Path) -> None:
    """Started again on a database that has users, serve prints no password."""
    again = await start_serve(env, data_dir)
    try:
        output = again.output()
    finally:
        await stop_serve(again)
    assert output == f"ProductDemo on http://127.0.0.1:{again.port}\n"
    assert ADMIN_PASSWORD.search(served.output()) is not None


async def test_users_create_then_list(served: Served, env: dict[str, str]) -> None:
    """``users create --password-stdin`` creates the account and ``users list`` shows it."""
    created = await run(
        env, "users", "create", "carol", "--role", "user", "--password-stdin", stdin="a long password\n"
    )
    assert (created.returncode, created.stderr) == (0, "")
    match = re.fullmatch(r"created carol \(user\), id (\d+)\n", created.stdout)
    assert match is not None
    listed = await run(env, "users", "list")
    assert (listed.returncode, listed.stderr) == (0, "")
    lines = listed.stdout.splitlines()
    assert lines[0] == f"{1:>6}  {'admin':<24} {'admin':<6} active"
    assert f"{int(match[1]):>6}  {'carol':<24} {'user':<6} active" in lines
    assert (await _login(served, "carol", "a long password")).status_code == 200


@pytest.mark.usefixtures("served")
async def test_duplicate_name_fails_with_a_clear_message(env: dict[str, str]) -> None:
    """Creating a user whose name is taken exits 1 and says so on stderr."""
    result = await run(
        env, "users", "create", "admin", "--role", "user", "--password-stdin", stdin="a long password\n"
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "productdemo: user 'admin' already exists\n"


async def test_bad_role_is_an_argument_error(env: dict[str, str]) -> None:
    """An unknown role is refused by the argument parser with exit code 2, listing the roles."""
    result = await run(
        env, "users", "create", "dave", "--role", "boss", "--password-stdin", stdin="a long password\n"
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1] == (
        "productdemo users create: error: argument --role: invalid choice: 'boss' "
        "(choose from 'admin', 'user')"
    )


async def test_set_password_changes_it_and_ends_sessions(
    served: Served, env: dict[str, str], users: UserService
) -> None:
    """``users set-password`` makes only the new password work and closes the user's socket with 4401."""
    await users.create("erin", PASSWORD, "user")
    cookie = (await _login(served, "erin", PASSWORD)).cookies["connect.sid"]
    async with _socket(served, cookie) as ws:
        await recv_type(ws, "hello")
        result = await run(
            env, "users", "set-password", "erin", "--password-stdin", stdin="erin's new password\n"
        )
        assert (result.returncode, result.stdout, result.stderr) == (
            0,
            "password changed; erin's sessions have ended\n",
            "",
        )
        await asyncio.wait_for(ws.wait_closed(), 1500 * MS)
        assert (ws.close_code, ws.close_reason) == (4401, "password_changed")
    assert (await _login(served, "erin", PASSWORD)).status_code == 401
    assert (await _login(served, "erin", "erin's new password")).status_code == 200


async def test_disable_closes_the_users_sockets_on_a_running_server(
    served: Served, env: dict[str, str], users: UserService
) -> None:
    """``users disable`` against a running server closes that user's socket with 4401 within 1.5 s."""
    await users.create("frank", PASSWORD, "user")
    cookie = (await _login(served, "frank", PASSWORD)).cookies["connect.sid"]
    async with _socket(served, cookie) as ws:
        await recv_type(ws, "hello")
        result = await run(env, "users", "disable", "frank")
        assert (result.returncode, result.stdout, result.stderr) == (
            0,
            "frank disabled; their sessions have ended\n",
            "",
        )
        await asyncio.wait_for(ws.wait_closed(), 1500 * MS)
        assert (ws.close_code, ws.close_reason) == (4401, "disabled")
    assert (await _login(served, "frank", PASSWORD)).status_code == 401
