"""The ``productdemo`` command, run as a subprocess: users commands and a running ``serve``."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import AsyncIterator

import httpx
import pytest

from productdemo.services.users.passwords import Passwords
from productdemo.services.users.service import UserService
from productdemo.services.users.sessions import SessionStore
from productdemo.storage.database import create_engine, create_session_factory
from tests.scaleout.cluster import PRODUCTDEMO, REPO, Cluster, Instance
from tests.support import MS, PASSWORD, make_config, recv_type

ADMIN_PASSWORD = re.compile(r"Created user 'admin' with the one-time password: (\S+)")
# Only warnings logged: what the commands print is compared exactly.
QUIET = "WARNING"


async def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``productdemo *args`` from the repository root and wait for it."""
    return await asyncio.to_thread(
        subprocess.run,
        [str(PRODUCTDEMO), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    made = Cluster(tmp_path_factory.mktemp("cli"))
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture(scope="module")
def env(cluster: Cluster) -> dict[str, str]:
    """The environment of every command: the served data directory, cheap hashes, quiet logs."""
    return cluster.env("cli", {"PRODUCTDEMO_LOGGING_LEVEL": QUIET})


@pytest.fixture(scope="module")
async def served(cluster: Cluster) -> Instance:
    """``productdemo serve`` started on an empty database, shared by this module's tests."""
    [live] = await cluster.start(PRODUCTDEMO_LOGGING_LEVEL=QUIET)
    return live


@pytest.fixture(scope="module")
async def users(cluster: Cluster, served: Instance) -> AsyncIterator[UserService]:
    """The accounts service on the served database (after serve made admin), to set up users quickly."""
    # The served process runs on SQLite in its data dir, whatever database the suite uses.
    config = make_config(cluster.data_dir(served.name), database={"url": ""})
    engine = create_engine(config.database_url)
    db = create_session_factory(engine)
    yield UserService(db, SessionStore(db, config.secret_key(), 1), Passwords(time_cost=1, memory_kib=1024))
    await engine.dispose()


async def _login(served: Instance, username: str, password: str) -> httpx.Response:
    async with served.client() as http:
        return await http.post("/api/auth/login", json={"username": username, "password": password})


async def test_serve_prints_a_working_admin_password_once(served: Instance) -> None:
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


async def test_second_start_prints_no_password(served: Instance, cluster: Cluster) -> None:
    """Started again on a database that has users, serve prints no password."""
    [again] = await cluster.start(PRODUCTDEMO_LOGGING_LEVEL=QUIET)
    try:
        output = again.output()
    finally:
        await cluster.stop(again)
    assert output == f"ProductDemo on http://127.0.0.1:{again.port}\n"
    assert ADMIN_PASSWORD.search(served.output()) is not None


async def test_users_create_then_list(served: Instance, env: dict[str, str]) -> None:
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
    served: Instance, env: dict[str, str], users: UserService
) -> None:
    """``users set-password`` makes only the new password work and closes the user's socket with 4401."""
    await users.create("erin", PASSWORD, "user")
    cookie = (await _login(served, "erin", PASSWORD)).cookies["connect.sid"]
    async with served.connect(cookie) as ws:
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
    served: Instance, env: dict[str, str], users: UserService
) -> None:
    """``users disable`` against a running server closes that user's socket with 4401 within 1.5 s."""
    await users.create("frank", PASSWORD, "user")
    cookie = (await _login(served, "frank", PASSWORD)).cookies["connect.sid"]
    async with served.connect(cookie) as ws:
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
