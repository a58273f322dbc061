"""A Redis outage, with a Redis server of the test's own that it stops and restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tests import sample_files
from tests.scaleout.cluster import Cluster, Frame, Instance, PrivateRedis, Tabs
from tests.support import MS


@pytest.fixture(scope="module")
async def broker_url(private_redis: PrivateRedis) -> str:
    """The instances of this module use the private Redis, never the shared one."""
    return private_redis.url


async def status(instance: Instance, path: str) -> int:
    async with instance.client() as http:
        return (await http.get(path)).status_code


async def wait_status(instance: Instance, path: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (code := await status(instance, path)) != expected:
        assert time.monotonic() < deadline, f"{instance.name} {path}: {code}, not {expected}"
        await asyncio.sleep(0.1)


def resync_of(stream: str) -> Callable[[Frame], bool]:
    return lambda f: bool(f["type"] == "resync_required" and f["payload"]["stream"] == stream)


async def broker_up(instance: Instance) -> str:
    async with instance.client() as http:
        text = (await http.get("/metrics")).text
    return next(line for line in text.splitlines() if line.startswith("productdemo_broker_up "))


async def test_instances_survive_a_redis_outage_and_tell_clients_to_resync(
    cluster: Cluster, private_redis: PrivateRedis, tabs: Tabs
) -> None:
    """Without Redis the instances serve HTTP and keep sockets; when it returns, clients resync."""
    await cluster.create_user("admin1", "admin")
    (a, b), user_id = await asyncio.gather(cluster.start(2), cluster.create_user("carol"))
    admin = await cluster.login(a, "admin1")
    cookie = await cluster.login(a, "carol")
    on_a = await tabs.open(a, cookie, "carol@A")
    on_b = await tabs.open(b, cookie, "carol@B")
    streams = sorted(on_a.hello["payload"]["streams"])
    assert streams == ["all", f"user:{user_id}"]
    epochs = {s: on_a.position(s)[0] for s in streams}

    await private_redis.stop()
    for node in (a, b):
        assert await status(node, "/api/health") == 200
        async with node.client() as http:
            ready = await http.get("/api/ready")
        assert ready.status_code == 503, cluster.logs()
        assert ready.json() == {
            "status": "unavailable",
            "checks": {"database": "ok", "broker": "unreachable", "extraction": "ok"},
        }
    async with a.client(admin) as http:
        refused = await http.post("/api/admin/broadcast", json={"message": "lost"})
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "unavailable"
    for tab in (on_a, on_b):
        assert (await tab.request("ping"))["type"] == "pong"
    deadline = time.monotonic() + 5000 * MS
    while (await broker_up(a), await broker_up(b)) != ("productdemo_broker_up 0.0",) * 2:
        assert time.monotonic() < deadline, cluster.logs()
        await asyncio.sleep(0.1)

    await private_redis.start()
    for node in (a, b):
        await wait_status(node, "/api/ready", 200, 10_000 * MS)
    for tab in (on_a, on_b):
        for stream in streams:
            frame = await cluster.expect(tab.wait_for(resync_of(stream), 10_000 * MS))
            epoch = frame["payload"].pop("epoch")
            assert frame == {
                "type": "resync_required",
                "payload": {"stream": stream, "seq": 0, "reason": "broker reconnected"},
            }
            # Redis lost the streams' history: a new epoch, so old positions can't be resumed.
            assert epoch != epochs[stream]
        assert not tab.closed.is_set()
    for node in (a, b):
        assert await broker_up(node) == "productdemo_broker_up 1.0"

    async with b.client(admin) as http:
        sent = await http.post("/api/admin/broadcast", json={"message": "back again"})
    assert sent.status_code == 200, sent.text
    for tab in (on_a, on_b):
        frame = await tab.wait_for(lambda f: f["type"] == "notification")
        assert (frame["stream"], frame["seq"], frame["payload"]["message"]) == ("all", 1, "back again")


async def test_uploads_and_deletes_during_a_redis_outage_answer_the_truth(
    cluster: Cluster, private_redis: PrivateRedis
) -> None:
    """Without Redis an upload is stored, answered 201 and processed; a delete is done and answered
    204. The live events are lost (clients resync when Redis is back). (Before: both answered 503
    after succeeding, and the upload was never handed to the processor.)"""
    (node,) = await cluster.start(1)
    await cluster.create_user("erin")
    cookie = await cluster.login(node, "erin")
    await private_redis.stop()
    try:
        async with node.client(cookie) as http:
            response = await http.post(
                "/api/documents", files=[("files", ("outage.pdf", sample_files.pdf(["Written offline."])))]
            )
            assert response.status_code == 201, (response.text, cluster.logs())
            doc_id = response.json()["documents"][0]["id"]
            deadline = time.monotonic() + 30_000 * MS
            while (await http.get(f"/api/documents/{doc_id}")).json()["status"] != "completed":
                assert time.monotonic() < deadline, cluster.logs()
                await asyncio.sleep(0.1)
            deleted = await http.delete(f"/api/documents/{doc_id}")
            assert deleted.status_code == 204, (deleted.text, cluster.logs())
            assert (await http.get(f"/api/documents/{doc_id}")).status_code == 404
            assert (await http.get("/api/documents")).json()["documents"] == []
    finally:
        await private_redis.start()
