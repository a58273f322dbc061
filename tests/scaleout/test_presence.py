"""Presence across real instances on one (private) Redis: tabs on several instances, an
instance killed with SIGKILL, a Redis restart, and a version gap answered by the snapshot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from tests.scaleout.cluster import Cluster, Instance, PrivateRedis, Tab, Tabs
from tests.support import MS

TTL = 3.0
ENV = {"PRODUCTDEMO_PRESENCE_TTL": str(TTL), "PRODUCTDEMO_PRESENCE_TICK": "0.1"}


@pytest.fixture(scope="module")
async def broker_url(private_redis: PrivateRedis) -> str:
    """This module restarts Redis: its instances use a private one."""
    return private_redis.url


@dataclass
class Nodes:
    cluster: Cluster
    a: Instance
    b: Instance
    admin: str
    users: dict[str, int]

    async def cookie(self, instance: Instance, name: str) -> str:
        return await self.cluster.login(instance, name)


@pytest.fixture(scope="module")
async def nodes(cluster: Cluster) -> AsyncIterator[Nodes]:
    await cluster.create_user("padmin", "admin")
    users = {name: await cluster.create_user(name) for name in ("alice", "bob", "carol")}
    a, b = await cluster.start(2, **ENV)
    yield Nodes(cluster, a, b, "padmin", users)


async def state_of(tab: Tab, topic: str = "presence:app") -> dict[str, Any]:
    reply = await tab.request("rpc", {"method": "presence.state", "params": {"topic": topic}})
    assert reply["type"] == "rpc_result", reply
    result: dict[str, Any] = reply["payload"]["result"]
    return result


class Watch:
    """Follows presence:app as a client would: state, diffs by version, snapshot again on a gap."""

    def __init__(self, tab: Tab) -> None:
        self.tab = tab
        self.version = -1
        self.users: dict[int, dict[str, Any]] = {}
        self.seen = 0
        self.gaps = 0

    async def refresh(self) -> None:
        state = await state_of(self.tab)
        self.version = state["version"]
        self.users = {u["userId"]: u for u in state["users"]}

    def apply(self) -> None:
        for frame in self.tab.frames[self.seen :]:
            self.seen += 1
            payload = frame.get("payload", {})
            if frame["type"] == "presence_state":
                self.version = payload["version"]
                self.users = {u["userId"]: u for u in payload["users"]}
            elif frame["type"] == "presence_diff":
                if payload["version"] <= self.version:
                    continue
                if payload["version"] != self.version + 1:
                    self.gaps += 1
                    self.version = -2  # stale until refreshed
                    continue
                self.version = payload["version"]
                for uid in payload["leaves"]:
                    self.users.pop(uid, None)
                for user in payload["joins"] + payload["updates"]:
                    self.users[user["userId"]] = user

    async def until(self, check: Callable[[dict[int, dict[str, Any]]], bool], timeout: float) -> float:
        """Wait until ``check(users)`` holds; returns the seconds it took."""
        start = time.monotonic()
        deadline = start + timeout
        while True:
            self.apply()
            if self.version == -2:
                await self.refresh()
            if check(self.users):
                return time.monotonic() - start
            if time.monotonic() > deadline:
                raise AssertionError(f"presence never matched; users={self.users} version={self.version}")
            await asyncio.sleep(50 * MS)


async def watch(tabs: Tabs, nodes: Nodes, on: Instance) -> Watch:
    tab = await tabs.open(on, await nodes.cookie(on, nodes.admin), f"watch@{on.name}", ("presence:app",))
    return Watch(tab)


async def test_tabs_on_two_instances_are_one_person(nodes: Nodes, tabs: Tabs) -> None:
    """Alice with tabs on A and B is listed once (watchers on A and B agree); she leaves with her last tab."""
    alice = nodes.users["alice"]
    on_a, on_b = await watch(tabs, nodes, nodes.a), await watch(tabs, nodes, nodes.b)
    t1 = await tabs.open(nodes.a, await nodes.cookie(nodes.a, "alice"), "alice@A")
    t2 = await tabs.open(nodes.b, await nodes.cookie(nodes.b, "alice"), "alice@B")
    t3 = await tabs.open(nodes.b, await nodes.cookie(nodes.b, "alice"), "alice2@B")
    for w in (on_a, on_b):
        await w.until(lambda users: alice in users, 10_000 * MS)
    deadline = time.monotonic() + 5000 * MS
    while True:  # the admin view lists her tabs per instance (the third may be a tick behind)
        admin = await state_of(on_a.tab, "presence:admin")
        (entry,) = [u for u in admin["users"] if u["userId"] == alice]
        if entry["tabs"] == 3 or time.monotonic() > deadline:
            break
        await asyncio.sleep(50 * MS)
    assert (entry["tabs"], entry["instances"]) == (3, {"inst-1": 1, "inst-2": 2})
    await t1.close()
    await t2.close()
    await asyncio.sleep(500 * MS)
    on_a.apply()
    assert alice in on_a.users
    await t3.close()
    for w in (on_a, on_b):
        await w.until(lambda users: alice not in users, 10_000 * MS)
    assert [s["version"] for s in [await state_of(on_a.tab), await state_of(on_b.tab)]] == [on_a.version] * 2


async def test_users_of_a_killed_instance_leave_within_the_ttl(nodes: Nodes, tabs: Tabs) -> None:
    """SIGKILL of C (maybe the leader) makes Bob, only on C, leave within the TTL; Alice on A stays."""
    (c,) = await nodes.cluster.start(1, **ENV)
    bob, alice = nodes.users["bob"], nodes.users["alice"]
    w = await watch(tabs, nodes, nodes.a)
    await tabs.open(c, await nodes.cookie(c, "bob"), "bob@C")
    await tabs.open(nodes.a, await nodes.cookie(nodes.a, "alice"), "alice@A")
    await w.until(lambda users: bob in users and alice in users, 10_000 * MS)
    await nodes.cluster.kill(c)
    took = await w.until(lambda users: bob not in users, (TTL + 5) * 1000 * MS)
    assert took <= TTL + 1.0 + 1000 * MS, took
    assert alice in w.users


async def test_a_version_gap_is_answered_by_the_snapshot(nodes: Nodes, tabs: Tabs) -> None:
    """A watcher that misses a diff sees the gap and the snapshot brings it to the same users."""
    alice = nodes.users["alice"]
    w = await watch(tabs, nodes, nodes.b)
    await w.until(lambda users: True, 2000 * MS)
    t = await tabs.open(nodes.a, await nodes.cookie(nodes.a, "alice"), "alice-gap@A")
    await w.tab.wait_for(
        lambda f: f["type"] == "presence_diff" and alice in [u["userId"] for u in f["payload"]["joins"]],
        10_000 * MS,
    )
    w.seen = len(w.tab.frames)  # lose that diff, as a client that missed it would
    await t.close()
    await w.tab.wait_for(
        lambda f: f["type"] == "presence_diff" and alice in f["payload"]["leaves"], 10_000 * MS
    )
    await tabs.open(nodes.a, await nodes.cookie(nodes.a, "bob"), "bob-gap@A")
    await w.until(lambda users: nodes.users["bob"] in users, 10_000 * MS)
    assert w.gaps >= 1
    assert alice not in w.users


async def test_the_dashboard_shows_every_instance(nodes: Nodes, tabs: Tabs) -> None:
    """An admin on A gets each instance's dashboard_update, with that instance's own sockets."""
    watcher = await tabs.open(
        nodes.a, await nodes.cookie(nodes.a, nodes.admin), "dash@A", ("admin:dashboard",)
    )
    await tabs.open(nodes.b, await nodes.cookie(nodes.b, "bob"), "bob-dash@B")
    await tabs.open(nodes.b, await nodes.cookie(nodes.b, "bob"), "bob2-dash@B")

    def update_of(name: str, connections: int) -> Callable[[dict[str, Any]], bool]:
        def match(f: dict[str, Any]) -> bool:
            if f["type"] != "dashboard_update" or f["payload"]["instance"] != name:
                return False
            return bool(f["payload"]["figures"]["connections"]["connections"] == connections)

        return match

    # A holds the watcher; B holds Bob's two tabs (other tests' tabs are closed by now).
    a = await watcher.wait_for(update_of(nodes.a.name, 1), 10_000 * MS)
    b = await watcher.wait_for(update_of(nodes.b.name, 2), 10_000 * MS)
    assert b["payload"]["figures"]["connections"]["users"] == 1
    assert a["payload"]["figures"]["broker"]["up"] == 1
    assert a["payload"]["shared"]["documents"] == b["payload"]["shared"]["documents"]


async def test_a_redis_restart_leaves_no_stale_entries(
    nodes: Nodes, tabs: Tabs, private_redis: PrivateRedis
) -> None:
    """Carol on an instance killed while Redis is down is gone once Redis is back; Alice on A is listed.

    Last in the module: after a Redis restart, instances may close sockets (1013) while they
    recover their streams, which would disturb the tests after it."""
    (d,) = await nodes.cluster.start(1, **ENV)
    carol, alice = nodes.users["carol"], nodes.users["alice"]
    w = await watch(tabs, nodes, nodes.a)
    await tabs.open(d, await nodes.cookie(d, "carol"), "carol@D")
    alice_tab = await tabs.open(nodes.a, await nodes.cookie(nodes.a, "alice"), "alice@A")
    await w.until(lambda users: carol in users and alice in users, 10_000 * MS)
    await private_redis.stop()
    await nodes.cluster.kill(d)
    await private_redis.start()
    admin_cookie = await nodes.cookie(nodes.a, nodes.admin)

    async def listed() -> set[int] | None:
        """Who A lists now, read on a fresh socket (A may close sockets while it recovers)."""
        try:
            reader = await tabs.open(nodes.a, admin_cookie, "reader@A")
            return {u["userId"] for u in (await state_of(reader))["users"]}
        except (AssertionError, OSError, InvalidStatus):
            return None

    async def settled() -> bool:
        users = await listed()
        # Alice is listed while her tab lives (a recovering instance may have closed it).
        return users is not None and carol not in users and (alice in users or alice_tab.closed.is_set())

    deadline = time.monotonic() + (TTL + 15) * 1000 * MS
    while not await settled():
        assert time.monotonic() < deadline, await listed()
        await asyncio.sleep(250 * MS)
    await asyncio.sleep(TTL)  # and it stays so: nothing stale comes back
    assert await settled()
