"""``productdemo serve`` plus the peers' one-trigger contract, for comparable fan-out latency.

The shared peers (``../shared/bench/peers/``) take one ``POST /trigger?mode=all&k=K`` on
PORT+1000 and build and stamp K messages inside the server; the app's own trigger is one
authenticated HTTP POST per message, so its latency included K queued requests. This
launcher runs the real app unchanged (authentication, routing, history, the broker and the
hub's per-tick coalescing all on) and adds that trigger beside it: each of the K events is
published through the app's ``Publisher`` (``to_all`` or, for ``mode=user``, ``to_user`` for
every connected user) with ``"ts": time.time_ns()`` taken just before it is published.
Nothing here is in the package.

Usage: .venv/bin/python bench/burst_serve.py serve   (PORT from PRODUCTDEMO_SERVER_PORT)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from productdemo import app as app_module
from productdemo.api.deps import Services
from productdemo.realtime.events import Event
from productdemo.realtime.publisher import user_stream

PAD = "x" * 16


class BenchTick(Event):
    """About the peers' message: a progress-like event with the publish time in ``ts``."""

    event_type = "bench_tick"
    doc: str = "doc-000042"
    user: str = "*"
    stage: str = "ocr"
    seq: int
    pct: int
    ts: int
    pad: str = PAD


async def publish(services: Services, mode: str, k: int) -> dict[str, object]:
    """K events to everyone, or K rounds of one event to each connected user."""
    events = services.events
    if mode == "all":
        for i in range(k):
            await events.to_all(BenchTick(seq=i, pct=i % 101, ts=time.time_ns()))
        return {"k": k, "mode": mode, "conns": len(services.hub.registry.by_id)}
    by_stream = services.hub.registry.by_stream
    users = [int(s.removeprefix("user:")) for s in by_stream if s.startswith("user:")]
    for i in range(k):
        for uid in users:
            if user_stream(uid) in by_stream:
                await events.to_user(uid, BenchTick(seq=i, pct=i % 101, user=str(uid), ts=time.time_ns()))
    return {"k": k, "mode": mode, "users": len(users)}


class TriggerProtocol(asyncio.Protocol):
    """One request per connection: read the head, publish, answer, close."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.head = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.head += data
        if b"\r\n\r\n" in self.head:
            target = self.head.split(b" ", 2)[1].decode("latin-1")
            query = dict(parse_qsl(urlsplit(target).query))
            asyncio.ensure_future(self.answer(query.get("mode", "all"), int(query.get("k", "1"))))

    async def answer(self, mode: str, k: int) -> None:
        start = time.time_ns()
        result = await publish(self.services, mode, k)
        # The hub writes each socket's queue in a callback scheduled by the first publish,
        # which runs before this coroutine resumes: then every frame is with the kernel.
        await asyncio.sleep(0)
        result["written_ms"] = (time.time_ns() - start) / 1e6
        body = json.dumps(result).encode()
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()


class WithTrigger:
    """The app, plus the trigger server started once the app's start-up has completed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.server: asyncio.AbstractServer | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.inner(scope, receive, send)
            return

        async def on_send(message: Any) -> None:
            if message["type"] == "lifespan.startup.complete":
                port = int(os.environ["PRODUCTDEMO_SERVER_PORT"]) + 1000
                services = self.inner.services
                self.server = await asyncio.get_running_loop().create_server(
                    lambda: TriggerProtocol(services), "127.0.0.1", port, reuse_address=True
                )
            await send(message)

        await self.inner(scope, receive, on_send)


def create_app(config: Any) -> WithTrigger:
    return WithTrigger(original_create_app(config))


original_create_app = app_module.create_app
app_module.create_app = create_app  # type: ignore[assignment]

if __name__ == "__main__":
    from productdemo.cli import main

    sys.exit(main())
