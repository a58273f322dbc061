"""The uvicorn settings the app needs, in one place for ``productdemo serve`` and the tests."""

from __future__ import annotations

import gc
from functools import partial
from typing import Any

import uvicorn

from productdemo.config import Config
from productdemo.realtime.keepalive import KeepaliveWheel
from productdemo.realtime.peer import FrameLimits
from productdemo.realtime.transport import DirectWebSocketProtocol
from productdemo.request_head import GuardedHttpProtocol, HeadGuard, HeadLimits


def uvicorn_config(app: Any, config: Config, **overrides: Any) -> uvicorn.Config:
    """uvicorn serving ``app`` with ProductDemo's protocols, limits and (if configured) TLS.

    The WebSocket protocol class is what lets the hub write frames straight to each
    socket (``realtime/transport.py``); frame size and heartbeat come from ``[realtime]``.
    Both protocols share one :class:`HeadGuard`, which bounds unfinished request heads
    and upgrades per client address (``request_head.py``).
    """
    rt = config.realtime
    srv = config.server
    guard = HeadGuard(HeadLimits(srv.head_timeout, srv.max_head_size, srv.max_half_open_per_address))
    frame_limits = FrameLimits(rt.max_fragments, rt.fragment_timeout)
    settings: dict[str, Any] = {
        "host": srv.host,
        "port": srv.port,
        "loop": "uvloop",
        # uvicorn calls these with (config=, server_state=, app_state=), as it would the classes.
        "http": partial(GuardedHttpProtocol, guard=guard),
        "ws": partial(
            DirectWebSocketProtocol,
            guard=guard,
            frame_limits=frame_limits,
            keepalive=KeepaliveWheel(rt.heartbeat_interval),
        ),
        "ws_max_size": rt.max_message_size,
        "ws_ping_interval": rt.heartbeat_interval,
        "ws_ping_timeout": rt.heartbeat_interval,
        "ws_per_message_deflate": False,
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        # Application.__call__ returns its handler's coroutine instead of being one, which
        # uvicorn's "auto" would take for ASGI 2.
        "interface": "asgi3",
        "backlog": 4096,
        "timeout_graceful_shutdown": 5,
    }
    if srv.tls_certfile is not None and srv.tls_keyfile is not None:
        settings["ssl_certfile"] = str(srv.tls_certfile)
        settings["ssl_keyfile"] = str(srv.tls_keyfile)
    settings.update(overrides)
    return uvicorn.Config(app, **settings)


# Objects allocated between young collections (CPython's default is 700).
YOUNG_COLLECTION_EVERY = 10_000


class Server(uvicorn.Server):
    """uvicorn's server, tuned so the garbage collector does not stop the loop for long.

    Start-up leaves a quarter of a million long-lived objects (the web stack, the models,
    pydantic's schemas). Every full collection scanned them all: 100-250 ms with the loop
    stopped, the worst delivery delays under load. Frozen once the app has started, they
    are no longer scanned; what sockets and requests allocate later still is.

    With the default threshold a wave of upgrades (each leaving its socket's objects
    behind) ran a full collection every few hundred sockets, over every socket so far: a
    fifth of an upgrade's CPU at 5,000 sockets. Young collections every 10,000 allocations
    instead of 700 make full ones rare; each young one stays within a few milliseconds
    (``docs/performance.md``, issue 14).
    """

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_COLLECTION_EVERY, older, oldest)
