"""MCP hosts: the host key is fetched, confirmed, pinned, and a changed key is a hard failure."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.mcp_support import FINAL, add_trusted_host, start_install, wait_state
from tests.sshd import Sshd, cleanup, fingerprint_of, start_sshd
from tests.support import MS, LiveServer, StartServer


@pytest.fixture
async def sshd() -> AsyncIterator[Sshd]:
    daemon = await start_sshd()
    yield daemon
    cleanup(daemon)


@pytest.fixture
async def http(start_server: StartServer, sshd: Sshd) -> AsyncIterator[httpx.AsyncClient]:
    live: LiveServer = await start_server(
        mcp={
            "mcp_server_name_1": "hello",
            "mcp_terminal_command_1": "echo hello",
            "mcp_launch_command_1": sshd.mcp_server_command,
            "connect_timeout": 1000 * MS,
            "poll_interval": 0.2,
        }
    )
    _id, cookie = await live.user_session("admin")
    async with live.client(cookies={"connect.sid": cookie}, timeout=30) as client:
        yield client


async def test_host_key_is_confirmed_before_anything_runs(http: httpx.AsyncClient, sshd: Sshd) -> None:
    """An unconfirmed host runs nothing (409); the scanned fingerprint is the host's; only it is accepted."""
    made = await http.post(
        "/api/mcp/hosts",
        json={
            "name": "box",
            "hostname": "127.0.0.1",
            "port": sshd.port,
            "username": "root",
            "privateKey": sshd.root_key,
        },
    )
    host = made.json()["host"]
    assert made.status_code == 201
    assert host == {
        "id": host["id"],
        "name": "box",
        "hostname": "127.0.0.1",
        "port": sshd.port,
        "username": "root",
        "fingerprint": None,
        "trusted": False,
    }
    refused = await http.post("/api/mcp/installs", json={"hostId": host["id"], "serverId": "1"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == "confirm the host key first (scan, then trust)"
    early = await http.post(f"/api/mcp/hosts/{host['id']}/trust", json={"fingerprint": "SHA256:x"})
    assert early.status_code == 409
    scanned = (await http.post(f"/api/mcp/hosts/{host['id']}/scan")).json()
    assert scanned == {"fingerprint": fingerprint_of(sshd.root / "host_key.pub")}
    wrong = await http.post(f"/api/mcp/hosts/{host['id']}/trust", json={"fingerprint": "SHA256:AAAA"})
    assert wrong.status_code == 409
    trusted = await http.post(f"/api/mcp/hosts/{host['id']}/trust", json=scanned)
    assert trusted.json()["host"]["trusted"] is True
    assert trusted.json()["host"]["fingerprint"] == scanned["fingerprint"]
    install_id = await start_install(http, host["id"], "1")
    assert (await wait_state(http, install_id, FINAL))["state"] == "succeeded"


async def test_changed_host_key_is_a_hard_failure_and_audited(http: httpx.AsyncClient, sshd: Sshd) -> None:
    """After the host's key changes, an install ends as error "host key changed", in the audit log."""
    host_id = await add_trusted_host(http, sshd)
    await sshd.restart_with_new_host_key()
    install_id = await start_install(http, host_id, "1")
    install = await wait_state(http, install_id, FINAL)
    assert install["state"] == "error"
    assert install["message"].startswith("host key changed")
    assert (await http.get(f"/api/mcp/installs/{install_id}/log")).json()["chunks"] == []
    entries = (await http.get("/api/mcp/audit")).json()["entries"]
    assert entries[0]["action"] == "hostkey.changed"
    assert entries[0]["host"] == f"root@127.0.0.1:{sshd.port}"
    assert entries[0]["command"] == "echo hello"
    assert [e["action"] for e in entries[1:4]] == ["install.start", "host.trust", "host.add"]


async def test_unreachable_host_times_out_with_a_reason(http: httpx.AsyncClient, sshd: Sshd) -> None:
    """A host that accepts TCP but never speaks SSH: the scan is refused and an install ends as error."""
    host_id = await add_trusted_host(http, sshd)
    sshd.stop()
    # Same port, now a listener that never answers: a wedged host.
    accepted: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda _r, w: accepted.append(w), "127.0.0.1", sshd.port)
    try:
        scan = await http.post(f"/api/mcp/hosts/{host_id}/scan")
        assert scan.status_code == 409
        assert scan.json()["detail"] == f"cannot reach 127.0.0.1:{sshd.port}: timed out"
        install_id = await start_install(http, host_id, "1")
        install = await wait_state(http, install_id, FINAL, timeout=10000 * MS)
    finally:
        for writer in accepted:
            writer.close()
        silent.close()
        await silent.wait_closed()
    assert install["state"] == "error"
    assert install["message"] == f"cannot connect to 127.0.0.1:{sshd.port}: timed out"


async def test_password_login_when_the_key_is_not_accepted(http: httpx.AsyncClient, sshd: Sshd) -> None:
    """A host with a password (and a key the login does not accept) installs over password login."""
    if sshd.non_root_user is None:
        pytest.skip("could not create the non-root user (useradd failed)")
    password = secrets.token_urlsafe(16)
    sshd.set_password(password)
    await sshd.restart()
    made = await http.post(
        "/api/mcp/hosts",
        json={
            "name": "pw",
            "hostname": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.non_root_user,
            "privateKey": sshd.root_key,
            "password": password,
        },
    )
    assert made.status_code == 201
    assert password not in made.text
    host_id = made.json()["host"]["id"]
    scanned = (await http.post(f"/api/mcp/hosts/{host_id}/scan")).json()
    await http.post(f"/api/mcp/hosts/{host_id}/trust", json=scanned)
    install_id = await start_install(http, host_id, "1")
    install = await wait_state(http, install_id, FINAL)
    # Logged in and ran the command (verifying the test server as this user is another matter:
    # it lives in root's virtualenv).
    assert install["exitStatus"] == 0, install["message"]
    log = (await http.get(f"/api/mcp/installs/{install_id}/log")).json()
    assert [c["data"] for c in log["chunks"]] == ["hello\n"]
