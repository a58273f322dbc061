"""Chat answers across instances: Stop made through another instance stops the model at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.scaleout.cluster import Cluster, Instance
from tests.services.chat.fake_openai import FakeOpenAI
from tests.support import MS


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    yield server
    await server.close()


@pytest.fixture(scope="module")
async def instances(cluster: Cluster, fake: FakeOpenAI) -> list[Instance]:
    # A long lease: renewals (every 10 s) cannot be what delivers the Stop within a second.
    return await cluster.start(
        2,
        PRODUCTDEMO_LLM_PROVIDER="openai",
        PRODUCTDEMO_LLM_OPENAI_URL=fake.url,
        PRODUCTDEMO_LLM_LEASE_SECONDS="30",
    )


async def test_stop_through_another_instance_closes_the_upstream_within_a_second(
    cluster: Cluster, instances: list[Instance], fake: FakeOpenAI
) -> None:
    """An answer written by A and stopped by a request to B: A closes the model's stream less than
    a second after the Stop was sent to B, and the answer ends cancelled with its text so far."""
    a, b = instances
    await cluster.create_user("carol")
    cookie_a, cookie_b = await cluster.login(a, "carol"), await cluster.login(b, "carol")
    fake.tokens, fake.delay = [f"w{n} " for n in range(2000)], 20 * MS
    async with a.client(cookie_a) as http:
        conversation_id = (await http.post("/api/conversations", json={})).json()["conversation"]["id"]
        reply = await http.post(f"/api/conversations/{conversation_id}/messages", json={"content": "Go on"})
    assert reply.status_code == 202, reply.text
    message_id = reply.json()["answer"]["id"]
    async with asyncio.timeout(5000 * MS):
        while fake.tokens_sent < 5:
            await asyncio.sleep(10 * MS)
    assert not fake.client_closed.is_set()
    async with b.client(cookie_b) as http:
        stopped = time.monotonic()
        stop = await http.post(f"/api/conversations/{conversation_id}/messages/{message_id}/cancel")
    assert stop.status_code == 202, stop.text
    await cluster.expect(asyncio.wait_for(fake.client_closed.wait(), 2000 * MS))
    assert time.monotonic() - stopped < 1.0
    async with b.client(cookie_b) as http, asyncio.timeout(5000 * MS):
        while True:
            messages = (await http.get(f"/api/conversations/{conversation_id}")).json()["messages"]
            if messages[-1]["status"] != "streaming":
                break
            await asyncio.sleep(50 * MS)
    assert messages[-1]["status"] == "cancelled"
    assert messages[-1]["content"].startswith("w0 w1 w2 w3 w4 ")
