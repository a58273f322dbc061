"""MCP installs end to end: the real server, a real sshd on loopback, a real WebSocket client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from productdemo.storage.models import McpInstall
from tests.mcp_support import (
    FINAL,
    add_trusted_host,
    follow,
    output_of,
    start_install,
    states_of,
    subscribe,
    wait_state,
)
from tests.sshd import Sshd, cleanup, start_sshd
from tests.support import MS, LiveServer, make_config, recv_json, recv_type, send_json

# Distinct numbers so pgrep finds exactly this test's remote processes.
CANCEL_CMD = "(trap '' TERM; exec sleep 86401) & while :; do echo tick; sleep 0.2; done"


def catalogue(sshd: Sshd) -> dict[str, str]:
    entries = {
        "1": (
            "ok",
            "printf '\\033[32mgreen\\033[0m\\n'; sleep 0.2; echo to-stderr >&2; sleep 0.2; echo last",
        ),
        "2": ("utf8", "printf 'caf\\303'; sleep 0.5; printf '\\251 done\\n'"),
        "3": ("exit3", "echo failing; exit 3"),
        "4": ("notmcp", "true"),
        "5": ("cancel", CANCEL_CMD),
        "6": ("idle", "echo waiting; exec sleep 86403"),
    }
    launch = {"4": "echo hello-not-mcp; exec sleep 86404"}
    values: dict[str, str] = {}
    for number, (name, command) in entries.items():
        values[f"mcp_server_name_{number}"] = name
        values[f"mcp_terminal_command_{number}"] = command
        values[f"mcp_launch_command_{number}"] = launch.get(number, sshd.mcp_server_command)
    return values


def mcp_settings(sshd: Sshd, **more: Any) -> dict[str, Any]:
    return {
        **catalogue(sshd),
        "connect_timeout": 2000 * MS,
        "idle_timeout": 3000 * MS,
        "verify_timeout": 15000 * MS,
        "kill_grace": 1.5,
        "poll_interval": 0.2,
        **more,
    }


@pytest.fixture(scope="module")
async def sshd() -> AsyncIterator[Sshd]:
    daemon = await start_sshd()
    yield daemon
    cleanup(daemon)


@pytest.fixture(scope="module")
async def live(sshd: Sshd, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    server = LiveServer(make_config(tmp_path_factory.mktemp("mcp"), mcp=mcp_settings(sshd)))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def admin(live: LiveServer) -> str:
    _id, cookie = await live.user_session("admin")
    return cookie


@pytest.fixture
async def http(live: LiveServer, admin: str) -> AsyncIterator[httpx.AsyncClient]:
    async with live.client(cookies={"connect.sid": admin}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def root_host(live: LiveServer, admin: str, sshd: Sshd) -> str:
    async with live.client(cookies={"connect.sid": admin}, timeout=30) as client:
        return await add_trusted_host(client, sshd)


async def test_install_streams_ordered_output_and_lists_tools(
    live: LiveServer, admin: str, http: httpx.AsyncClient, root_host: str
) -> None:
    """Output arrives in order with its ANSI codes and stream, then verify lists the server's tools."""
    async with live.connect(admin) as ws:
        install_id = await start_install(http, root_host, "1")
        await subscribe(ws, install_id)
        frames = await follow(ws, install_id)
    outputs = [
        (f["payload"]["stream"], f["payload"]["data"]) for f in frames if f["type"] == "mcp_install_output"
    ]
    assert outputs == [("stdout", "\x1b[32mgreen\x1b[0m\n"), ("stderr", "to-stderr\n"), ("stdout", "last\n")]
    assert output_of(frames) == "\x1b[32mgreen\x1b[0m\nto-stderr\nlast\n"
    assert states_of(frames)[-3:] == ["running", "verifying", "succeeded"]
    assert frames[-1]["payload"] == {
        "installId": install_id,
        "state": "succeeded",
        "exitStatus": 0,
        "message": "installed — 2 tools",
    }
    install = (await http.get(f"/api/mcp/installs/{install_id}")).json()["install"]
    assert install["exitStatus"] == 0
    assert install["tools"] == [
        {"name": "add", "description": "Add two numbers."},
        {"name": "echo", "description": "Say it back."},
    ]
    log = (await http.get(f"/api/mcp/installs/{install_id}/log", params={"offset": 0})).json()
    assert [(c["offset"], c["stream"], c["data"]) for c in log["chunks"]] == [
        (0, "stdout", "\x1b[32mgreen\x1b[0m\n"),
        (15, "stderr", "to-stderr\n"),
        (25, "stdout", "last\n"),
    ]
    tail = (await http.get(f"/api/mcp/installs/{install_id}/log", params={"offset": 25})).json()
    assert [c["data"] for c in tail["chunks"]] == ["last\n"]


async def test_utf8_character_split_across_reads_comes_out_whole(
    live: LiveServer, admin: str, http: httpx.AsyncClient, root_host: str
) -> None:
    """'é' written as two bytes half a second apart arrives as one whole character."""
    async with live.connect(admin) as ws:
        install_id = await start_install(http, root_host, "2")
        await subscribe(ws, install_id)
        frames = await follow(ws, install_id)
    assert output_of(frames) == "café done\n"
    assert "\ufffd" not in output_of(frames)


async def test_nonzero_exit_fails_with_the_status(
    live: LiveServer, admin: str, http: httpx.AsyncClient, root_host: str
) -> None:
    """A command exiting 3 ends the install as failed with exit status 3, without verifying."""
    async with live.connect(admin) as ws:
        install_id = await start_install(http, root_host, "3")
        await subscribe(ws, install_id)
        frames = await follow(ws, install_id)
    assert "verifying" not in states_of(frames)
    assert frames[-1]["payload"]["state"] == "failed"
    assert frames[-1]["payload"]["exitStatus"] == 3
    assert frames[-1]["payload"]["message"] == "the install command exited with status 3"


async def test_the_admin_who_started_an_install_is_notified_of_its_end(
    live: LiveServer, admin: str, http: httpx.AsyncClient, root_host: str
) -> None:
    """A stored notification (there at next sign-in) says how the install ended and links to it."""
    async with live.connect(admin) as ws:
        install_id = await start_install(http, root_host, "3")
        await subscribe(ws, install_id)
        await follow(ws, install_id)
        live_note = (await recv_type(ws, "notification", 10000 * MS))["payload"]
    stored = (await http.get("/api/notifications")).json()["notifications"]
    (note,) = [n for n in stored if n["link"] == f"/admin/mcp/{install_id}"]
    assert (note["kind"], note["level"], note["read"]) == ("mcp_install_finished", "warning", False)
    assert note["message"].endswith(" failed: the install command exited with status 3")
    assert live_note["id"] == note["id"]


async def test_a_server_that_does_not_speak_mcp_fails_verify(
    http: httpx.AsyncClient, sshd: Sshd, root_host: str
) -> None:
    """The install exits 0 but the launched program prints text: failed, with the reason."""
    install_id = await start_install(http, root_host, "4")
    install = await wait_state(http, install_id, FINAL)
    assert install["state"] == "failed"
    assert install["exitStatus"] == 0
    assert install["message"].startswith("the server did not answer MCP")
    assert install["tools"] is None
    # The launched program ignored the end of its stdin: its process group was stopped.
    async with asyncio.timeout(10000 * MS):
        while await sshd.pgrep("sleep 86404"):
            await asyncio.sleep(0.1)


async def test_one_install_per_host_and_server_at_a_time(http: httpx.AsyncClient, root_host: str) -> None:
    """A second install of the same server on the same host is refused with 409 while one runs."""
    install_id = await start_install(http, root_host, "5")
    again = await http.post("/api/mcp/installs", json={"hostId": root_host, "serverId": "5"})
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    await wait_state(http, install_id, {"running"})
    assert (await http.post(f"/api/mcp/installs/{install_id}/cancel")).status_code == 202
    await wait_state(http, install_id, FINAL)


async def _cancel_kills_group(
    live: LiveServer, admin: str, http: httpx.AsyncClient, sshd: Sshd, host_id: str
) -> None:
    async with live.connect(admin) as ws:
        install_id = await start_install(http, host_id, "5")
        await subscribe(ws, install_id)
        async with asyncio.timeout(20000 * MS):
            while (await recv_json(ws, 20000 * MS))["type"] != "mcp_install_output":
                pass
        running = await sshd.pgrep("sleep 86401")
        assert running, "the remote command should be running before the cancel"
        cancelled = await http.post(f"/api/mcp/installs/{install_id}/cancel")
        assert cancelled.status_code == 202
        frames = await follow(ws, install_id)
    assert frames[-1]["payload"]["state"] == "cancelled"
    # The TERM-ignoring sleep needed the KILL after the grace period; nothing of the group is left.
    async with asyncio.timeout(10000 * MS):
        while await sshd.pgrep("8640[1]"):
            await asyncio.sleep(0.1)
    assert await sshd.pgrep("while :; do echo tick") == []


async def test_cancel_kills_the_remote_process_group_as_root(
    live: LiveServer, admin: str, http: httpx.AsyncClient, sshd: Sshd, root_host: str
) -> None:
    """Cancelling (logged in as root, where OpenSSH refuses signals) leaves no remote process behind."""
    await _cancel_kills_group(live, admin, http, sshd, root_host)


async def test_cancel_kills_the_remote_process_group_as_non_root(
    live: LiveServer, admin: str, http: httpx.AsyncClient, sshd: Sshd
) -> None:
    """Cancelling as a non-root login leaves no remote process behind either."""
    if sshd.non_root_user is None:
        pytest.skip("could not create the non-root user (useradd failed)")
    host_id = await add_trusted_host(http, sshd, sshd.non_root_user)
    await _cancel_kills_group(live, admin, http, sshd, host_id)


async def test_idle_output_deadline_times_out_and_kills(
    http: httpx.AsyncClient, sshd: Sshd, root_host: str
) -> None:
    """A command silent for longer than idle_timeout ends timed_out, and its process is gone."""
    install_id = await start_install(http, root_host, "6")
    install = await wait_state(http, install_id, FINAL)
    assert install["state"] == "timed_out"
    assert install["message"] == f"no output for {3000 * MS:g} s"
    async with asyncio.timeout(10000 * MS):
        while await sshd.pgrep("sleep 86403"):
            await asyncio.sleep(0.1)


async def test_wrong_key_is_an_error(http: httpx.AsyncClient, sshd: Sshd) -> None:
    """A key the host does not accept ends the install as error: authentication refused."""
    host_id = await add_trusted_host(http, sshd, "root", key=sshd.user_key)
    install_id = await start_install(http, host_id, "3")
    install = await wait_state(http, install_id, FINAL)
    assert install["state"] == "error"
    assert install["message"] == "authentication refused for root"


async def test_bad_private_key_is_refused(http: httpx.AsyncClient, sshd: Sshd) -> None:
    """Text that is not a private key is refused with 400 and nothing is stored."""
    before = (await http.get("/api/mcp/hosts")).json()["hosts"]
    made = await http.post(
        "/api/mcp/hosts",
        json={
            "name": "x",
            "hostname": "127.0.0.1",
            "port": sshd.port,
            "username": "root",
            "privateKey": "nope",
        },
    )
    assert made.status_code == 400
    assert made.json()["code"] == "bad_request"
    assert (await http.get("/api/mcp/hosts")).json()["hosts"] == before


async def test_catalogue_comes_from_config(http: httpx.AsyncClient, sshd: Sshd) -> None:
    """GET /api/mcp/servers lists the configured entries with their exact commands."""
    servers = (await http.get("/api/mcp/servers")).json()["servers"]
    assert servers[4] == {
        "id": "5",
        "name": "cancel",
        "installCommand": CANCEL_CMD,
        "launchCommand": sshd.mcp_server_command,
    }
    assert [s["id"] for s in servers] == ["1", "2", "3", "4", "5", "6"]


async def test_non_admins_are_refused_everywhere(live: LiveServer, root_host: str) -> None:
    """A signed-in user gets 403 on every MCP endpoint and forbidden on an install topic."""
    _id, cookie = await live.user_session("user")
    async with live.client(cookies={"connect.sid": cookie}) as user:
        calls = [
            ("GET", "/api/mcp/hosts"),
            ("POST", "/api/mcp/hosts"),
            ("DELETE", f"/api/mcp/hosts/{root_host}"),
            ("POST", f"/api/mcp/hosts/{root_host}/scan"),
            ("POST", f"/api/mcp/hosts/{root_host}/trust"),
            ("GET", "/api/mcp/servers"),
            ("GET", "/api/mcp/installs"),
            ("POST", "/api/mcp/installs"),
            ("GET", "/api/mcp/installs/i_x"),
            ("GET", "/api/mcp/installs/i_x/log"),
            ("GET", "/api/mcp/installs/i_x/log.txt"),
            ("POST", "/api/mcp/installs/i_x/cancel"),
            ("POST", "/api/mcp/installs/i_x/verify"),
            ("GET", "/api/mcp/audit"),
        ]
        for method, path in calls:
            response = await user.request(method, path, json={})
            assert response.status_code == 403, (method, path, response.status_code)
    async with live.connect(cookie) as ws:
        await send_json(ws, {"type": "subscribe", "id": "1", "payload": {"topic": "mcp_install:i_x"}})
        while (frame := await recv_json(ws))["type"] != "error":
            pass
        assert frame["id"] == "1" and frame["payload"]["code"] == "forbidden"


async def test_private_key_never_leaves_the_server(
    live: LiveServer, admin: str, http: httpx.AsyncClient, sshd: Sshd, caplog: pytest.LogCaptureFixture
) -> None:
    """The key's material is in no response, event or log line, and is not stored in clear."""
    caplog.set_level(logging.DEBUG)
    secret_lines = [line for line in sshd.root_key.splitlines() if "PRIVATE KEY" not in line]
    seen: list[str] = []
    async with live.connect(admin) as ws:
        host_id = await add_trusted_host(http, sshd)
        install_id = await start_install(http, host_id, "1")
        await subscribe(ws, install_id)
        frames = await follow(ws, install_id)
        seen += [str(f) for f in frames]
    for path in (
        "/api/mcp/hosts",
        f"/api/mcp/installs/{install_id}",
        f"/api/mcp/installs/{install_id}/log",
        "/api/mcp/installs",
        "/api/mcp/audit",
        "/api/openapi.json",
    ):
        seen.append((await http.get(path)).text)
    seen.append(caplog.text)
    database = Path(live.config.storage.data_dir) / "productdemo.db"
    if database.exists():
        seen.append(database.read_bytes().decode("latin-1"))
    for line in secret_lines:
        assert not any(line in text for text in seen)
    assert frames[-1]["payload"]["state"] == "succeeded"


async def test_a_lost_claim_stops_the_work_and_writes_nothing_more(
    live: LiveServer, http: httpx.AsyncClient, sshd: Sshd, root_host: str
) -> None:
    """When the claim is taken away, the runner kills the remote group and never writes an end."""
    install_id = await start_install(http, root_host, "5")
    await wait_state(http, install_id, {"running"})
    async with asyncio.timeout(10000 * MS):
        while not await sshd.pgrep("sleep 86401"):
            await asyncio.sleep(0.05)
    async with live.services.db() as db:
        await db.execute(update(McpInstall).where(McpInstall.id == install_id).values(claimed_by="elsewhere"))
        await db.commit()
    async with asyncio.timeout(10000 * MS):
        while await sshd.pgrep("8640[1]"):
            await asyncio.sleep(0.1)
    size = (await http.get(f"/api/mcp/installs/{install_id}")).json()["install"]["logSize"]
    await asyncio.sleep(3 * live.config.mcp.poll_interval)
    install = (await http.get(f"/api/mcp/installs/{install_id}")).json()["install"]
    assert (install["state"], install["logSize"]) == ("running", size)
    # Once the thief's lease runs out too, any instance ends the install: it never stays running.
    async with live.services.db() as db:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await db.execute(update(McpInstall).where(McpInstall.id == install_id).values(lease_until=past))
        await db.commit()
    ended = await wait_state(http, install_id, FINAL)
    assert ended["state"] == "error"
    assert ended["message"].startswith("instance lost")
