"""MCP installs across instances: one runs it, admins on every instance watch it, a dead one is replaced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from tests.mcp_support import add_trusted_host, start_install
from tests.scaleout.cluster import Cluster, Frame, Instance, Tabs
from tests.sshd import Sshd, cleanup, start_sshd
from tests.support import MS

SLOW = 'for i in $(seq 1 8); do echo "step $i"; sleep 0.3; done'
ENDLESS = "while :; do echo tick; sleep 0.2; done"
EXPECTED = "".join(f"step {i}\n" for i in range(1, 9))


@pytest.fixture(scope="module")
async def sshd() -> AsyncIterator[Sshd]:
    daemon = await start_sshd()
    yield daemon
    cleanup(daemon)


@pytest.fixture(scope="module")
async def instances(cluster: Cluster, sshd: Sshd) -> list[Instance]:
    settings = {
        "PRODUCTDEMO_MCP_MCP_SERVER_NAME_1": "slow",
        "PRODUCTDEMO_MCP_MCP_TERMINAL_COMMAND_1": SLOW,
        "PRODUCTDEMO_MCP_MCP_LAUNCH_COMMAND_1": sshd.mcp_server_command,
        "PRODUCTDEMO_MCP_MCP_SERVER_NAME_2": "endless",
        "PRODUCTDEMO_MCP_MCP_TERMINAL_COMMAND_2": ENDLESS,
        "PRODUCTDEMO_MCP_MCP_LAUNCH_COMMAND_2": sshd.mcp_server_command,
        "PRODUCTDEMO_MCP_LEASE_SECONDS": "2",
        "PRODUCTDEMO_MCP_POLL_INTERVAL": "0.2",
    }
    return await cluster.start(2, **settings)


@pytest.fixture(scope="module")
async def admins(cluster: Cluster, instances: list[Instance]) -> list[str]:
    await cluster.create_user("mcpadmin", "admin")
    return [await cluster.login(instance, "mcpadmin") for instance in instances]


def on_topic(install_id: str, kind: str) -> Callable[[Frame], bool]:
    def match(frame: Frame) -> bool:
        return frame.get("type") == kind and frame.get("stream") == f"topic:mcp_install:{install_id}"

    return match


def final(install_id: str, state: str) -> Callable[[Frame], bool]:
    def match(frame: Frame) -> bool:
        return (
            frame.get("type") == "mcp_install"
            and frame["payload"]["installId"] == install_id
            and frame["payload"]["state"] == state
        )

    return match


def output(tab_frames: list[Frame], install_id: str) -> str:
    chunks = sorted(
        (f["payload"]["offset"], f["payload"]["data"])
        for f in tab_frames
        if f.get("type") == "mcp_install_output" and f["payload"]["installId"] == install_id
    )
    text, offset = "", 0
    for start, data in chunks:
        assert start == offset, (start, offset)
        text += data
        offset += len(data.encode())
    return text


async def test_admins_on_every_instance_watch_one_install(
    cluster: Cluster, instances: list[Instance], admins: list[str], sshd: Sshd, tabs: Tabs
) -> None:
    """Started through one instance, the install runs once; admins on both see all its output live."""
    async with instances[0].client(admins[0]) as http:
        host_id = await add_trusted_host(http, sshd)
        install_id = await start_install(http, host_id, "1")
    topic = f"mcp_install:{install_id}"
    watchers = [
        await tabs.open(i, cookie, topics=(topic,)) for i, cookie in zip(instances, admins, strict=True)
    ]
    for tab in watchers:
        await cluster.expect(tab.wait_for(final(install_id, "succeeded"), timeout=30000 * MS))
    for tab in watchers:
        assert output(tab.frames, install_id) == EXPECTED
    async with instances[1].client(admins[1]) as http:
        install = (await http.get(f"/api/mcp/installs/{install_id}")).json()["install"]
    assert install["state"] == "succeeded" and [t["name"] for t in install["tools"]] == ["add", "echo"]


async def test_install_of_a_killed_instance_ends_as_error_elsewhere(
    cluster: Cluster,
    instances: list[Instance],
    admins: list[str],
    sshd: Sshd,
    tabs: Tabs,
    db: asyncpg.Connection,
) -> None:
    """SIGKILL the instance running an install: the other one ends it as error ("instance lost")."""
    async with instances[0].client(admins[0]) as http:
        host_id = await add_trusted_host(http, sshd)
        install_id = await start_install(http, host_id, "2")
    topic = f"mcp_install:{install_id}"
    watchers = {
        i.name: await tabs.open(i, c, topics=(topic,)) for i, c in zip(instances, admins, strict=True)
    }
    first = watchers[instances[0].name]
    await cluster.expect(first.wait_for(on_topic(install_id, "mcp_install_output"), timeout=20000 * MS))
    owner = await db.fetchval("SELECT claimed_by FROM mcp_installs WHERE id = $1", install_id)
    doomed = next(i for i in instances if i.name == owner)
    survivor = next(i for i in instances if i is not doomed)
    await cluster.kill(doomed)
    ended = await cluster.expect(
        watchers[survivor.name].wait_for(final(install_id, "error"), timeout=20000 * MS)
    )
    assert ended["payload"]["message"].startswith("instance lost")
    row = await db.fetchrow("SELECT state, claimed_by FROM mcp_installs WHERE id = $1", install_id)
    assert (row["state"], row["claimed_by"]) == ("error", None)
    # The remote command lost its SSH channel with the instance: nothing keeps running on the host.
    async with asyncio.timeout(15000 * MS):
        while await sshd.pgrep("while :; do echo tick"):
            await asyncio.sleep(0.2)
