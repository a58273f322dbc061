"""Events, sessions and resume across several instances sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from tests.scaleout.cluster import Cluster, Frame, Instance, Tabs
from tests.support import MS


@dataclass
class Nodes:
    cluster: Cluster
    a: Instance
    b: Instance
    c: Instance
    admin: str
    admin_cookie: str
    users: dict[str, int]

    async def broadcast(self, via: Instance, message: str, user: str | None = None) -> None:
        """POST /api/admin/broadcast on ``via`` (to one user, or to everyone)."""
        body: dict[str, Any] = {"message": message}
        if user is not None:
            body["userId"] = self.users[user]
        async with via.client(self.admin_cookie) as http:
            response = await http.post("/api/admin/broadcast", json=body)
        assert response.status_code == 200, (response.status_code, response.text, self.cluster.logs())


@pytest.fixture(scope="module")
async def nodes(cluster: Cluster) -> AsyncIterator[Nodes]:
    """Three instances A, B, C; an admin (signed in on A) and users alice and bob."""
    # The first command migrates the new database; migrations are not run concurrently.
    await cluster.create_user("admin1", "admin")
    started, alice, bob = await asyncio.gather(
        cluster.start(3), cluster.create_user("alice"), cluster.create_user("bob")
    )
    a, b, c = started
    cookie = await cluster.login(a, "admin1")
    yield Nodes(cluster, a, b, c, "admin1", cookie, {"alice": alice, "bob": bob})


def notes(tab_frames: list[Frame]) -> list[tuple[str, int, str]]:
    """(stream, seq, message) of every notification, in arrival order."""
    return [
        (f["stream"], f["seq"], f["payload"]["message"]) for f in tab_frames if f["type"] == "notification"
    ]


async def test_events_published_on_b_reach_a_client_on_a(nodes: Nodes, tabs: Tabs) -> None:
    """A client on A receives to_all, to_user and to_topic events published by instance B."""
    a, b, cluster = nodes.a, nodes.b, nodes.cluster
    alice_id, bob_id = nodes.users["alice"], nodes.users["bob"]
    watcher = await tabs.open(a, nodes.admin_cookie, "admin@A", topics=("admin:connections",))
    alice = await tabs.open(a, await cluster.login(a, "alice"), "alice@A")
    _, all_seq = alice.position("all")
    _, user_seq = alice.position(f"user:{alice_id}")

    await nodes.broadcast(b, "hello everyone")
    frame = await alice.wait_for(lambda f: f["type"] == "notification")
    created = frame["payload"].pop("createdAt")
    note_id = frame["payload"].pop("id")
    assert isinstance(note_id, int)
    assert frame == {
        "type": "notification",
        "payload": {
            "kind": "announcement",
            "message": "hello everyone",
            "from": "admin1",
            "level": "info",
            "link": None,
        },
        "stream": "all",
        "seq": all_seq + 1,
    }, cluster.logs()
    assert created.endswith("Z") or created.endswith("+00:00")

    await nodes.broadcast(b, "hello alice", user="alice")
    frame = await alice.wait_for(lambda f: f["type"] == "notification" and f["stream"] != "all")
    assert (frame["stream"], frame["seq"], frame["payload"]["message"]) == (
        f"user:{alice_id}",
        user_seq + 1,
        "hello alice",
    )

    # Bob connects to B only: B's hub publishes connections_changed on the topic.
    bob_cookie = await cluster.login(b, "bob")
    await tabs.open(b, bob_cookie, "bob@B")
    frame = await watcher.wait_for(
        lambda f: f["type"] == "connections_changed" and f["payload"]["userId"] == bob_id
    )
    assert frame["stream"] == "topic:admin:connections"
    assert frame["payload"] == {"userId": bob_id, "username": "bob", "connections": 1}


async def test_each_tab_gets_each_event_once(nodes: Nodes, tabs: Tabs) -> None:
    """A user with two tabs on A and one on B gets every event exactly once per tab, in order."""
    a, b = nodes.a, nodes.b
    alice_id = nodes.users["alice"]
    cookie = await nodes.cluster.login(a, "alice")
    open_tabs = [
        await tabs.open(a, cookie, "alice1@A"),
        await tabs.open(a, cookie, "alice2@A"),
        await tabs.open(b, cookie, "alice3@B"),
    ]
    stream = f"user:{alice_id}"
    starts = {tab.position(stream) for tab in open_tabs}
    assert len(starts) == 1, starts  # one position for the stream, whichever instance is asked
    _, user_seq = starts.pop()
    _, all_seq = open_tabs[0].position("all")

    sent = []
    for n in range(6):
        via = (a, b, nodes.c)[n % 3]
        await nodes.broadcast(via, f"private {n}", user="alice")
        sent.append((stream, user_seq + n + 1, f"private {n}"))
        if n % 2:
            await nodes.broadcast(via, f"public {n}")
            all_seq += 1
            sent.append(("all", all_seq, f"public {n}"))
    for tab in open_tabs:
        await tab.wait_count(lambda f: f["type"] == "notification", len(sent))
    for tab in open_tabs:
        await tab.quiet()
        assert notes(tab.frames) == sent, tab.name


async def test_logout_on_a_closes_the_session_socket_on_b(nodes: Nodes, tabs: Tabs) -> None:
    """Logout through A closes that session's sockets on A and B with 4401; other sessions stay."""
    a, b, cluster = nodes.a, nodes.b, nodes.cluster
    cookie = await cluster.login(a, "bob")
    other = await tabs.open(b, await cluster.login(b, "bob"), "other-session@B")
    on_a = await tabs.open(a, cookie, "bob@A")
    on_b = await tabs.open(b, cookie, "bob@B")

    async with a.client(cookie) as http:
        response = await http.post("/api/auth/logout")
    assert response.status_code == 204, response.text
    started = time.monotonic()
    async with asyncio.timeout(1500 * MS):
        await on_b.closed.wait()
    elapsed = time.monotonic() - started
    await asyncio.wait_for(on_a.closed.wait(), 1000 * MS)
    assert (on_b.ws.close_code, on_b.ws.close_reason) == (4401, "logout"), cluster.logs()
    assert (on_a.ws.close_code, on_a.ws.close_reason) == (4401, "logout")
    assert elapsed < 1.5

    pong = await other.request("ping")
    assert pong["type"] == "pong"
    with pytest.raises(InvalidStatus) as refused:
        await b.connect(cookie)
    assert refused.value.response.status_code == 401


async def test_resume_on_another_instance_replays_exactly_the_missed_events(nodes: Nodes, tabs: Tabs) -> None:
    """A client that read events on A and resumes on B gets exactly the missed ones, in order."""
    a, b = nodes.a, nodes.b
    stream = f"user:{nodes.users['alice']}"
    cookie = await nodes.cluster.login(a, "alice")
    first = await tabs.open(a, cookie, "alice@A")
    epoch, start = first.position(stream)
    for n in range(2):
        await nodes.broadcast(a, f"seen {n}", user="alice")
    await first.wait_count(lambda f: f["type"] == "notification", 2)
    seen = first.events("notification", stream)
    assert [f["seq"] for f in seen] == [start + 1, start + 2]
    await first.close()

    missed = [f"missed {n}" for n in range(3)]
    for n, message in enumerate(missed):
        await nodes.broadcast((a, b)[n % 2], message, user="alice")

    second = await tabs.open(b, cookie, "alice@B")
    assert second.position(stream) == (epoch, start + 5)
    ack = await second.request("resume", {"streams": {stream: {"epoch": epoch, "seq": start + 2}}})
    assert ack["type"] == "ack", ack
    assert ack["payload"] == {
        "streams": {stream: {"epoch": epoch, "seq": start + 5, "replayed": 3, "resync": False}}
    }
    await second.quiet()
    replayed = second.frames[1 : second.frames.index(ack)]
    assert notes(replayed) == [(stream, start + 3 + n, m) for n, m in enumerate(missed)]
    assert len(replayed) == 3
    assert second.frames[-1] == ack  # nothing after: no duplicates
    assert not [f for f in second.frames if f["type"] == "resync_required"]


async def test_to_all_reaches_sockets_on_three_instances_once_each(nodes: Nodes, tabs: Tabs) -> None:
    """One broadcast reaches a socket on each of three instances exactly once, as the same frame."""
    cookie = await nodes.cluster.login(nodes.c, "bob")
    open_tabs = [await tabs.open(node, cookie, f"bob@{node.name}") for node in (nodes.a, nodes.b, nodes.c)]
    _, all_seq = open_tabs[0].position("all")
    await nodes.broadcast(nodes.b, "to all three")
    for tab in open_tabs:
        await tab.wait_for(lambda f: f["type"] == "notification")
    for tab in open_tabs:
        await tab.quiet()
        assert notes(tab.frames) == [("all", all_seq + 1, "to all three")], tab.name
    assert len({str(tab.events("notification")) for tab in open_tabs}) == 1


async def test_metrics_report_the_broker_up(nodes: Nodes) -> None:
    """/metrics on an instance reports productdemo_broker_up 1 while Redis is reachable."""
    async with nodes.b.client() as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert "\nproductdemo_broker_up 1.0\n" in response.text


async def test_rolling_restart_closes_with_1001_and_the_client_resumes_elsewhere(
    nodes: Nodes, tabs: Tabs
) -> None:
    """SIGTERM closes an instance's sockets with 1001; the client resumes on another instance."""
    cluster = nodes.cluster
    (d,) = await cluster.start(1)
    stream = f"user:{nodes.users['bob']}"
    cookie = await cluster.login(d, "bob")
    first = await tabs.open(d, cookie, "bob@D")
    epoch, start = first.position(stream)
    await nodes.broadcast(d, "before restart", user="bob")
    await first.wait_for(lambda f: f["type"] == "notification")

    await cluster.stop(d)
    # uvicorn shuts down gracefully, then re-raises SIGTERM; -SIGKILL would mean it hung.
    assert d.proc.returncode == -signal.SIGTERM, cluster.logs()
    await asyncio.wait_for(first.closed.wait(), 1000 * MS)
    assert (first.ws.close_code, first.ws.close_reason) == (1001, "server shutting down")
    await nodes.broadcast(nodes.a, "during restart", user="bob")

    second = await tabs.open(nodes.a, cookie, "bob@A")
    ack = await second.request("resume", {"streams": {stream: {"epoch": epoch, "seq": start + 1}}})
    assert ack["payload"]["streams"][stream]["replayed"] == 1, ack
    assert notes(second.frames) == [(stream, start + 2, "during restart")]
