"""The uvicorn settings the app needs, in one place for ``productdemo serve`` and the tests."""

from __future__ import annotations

from typing import Any

import uvicorn

from productdemo.config import Config
from productdemo.realtime.transport import DirectWebSocketProtocol


def uvicorn_config(app: Any, config: Config, **overrides: Any) -> uvicorn.Config:
    """uvicorn serving ``app`` with ProductDemo's WebSocket protocol and realtime limits.

    The protocol class is what lets the hub write frames straight to each socket
    (``realtime/transport.py``); frame size and heartbeat come from ``[realtime]``.
    """
    rt = config.realtime
    settings: dict[str, Any] = {
        "host": config.server.host,
        "port": config.server.port,
        "loop": "uvloop",
        "http": "httptools",
        "ws": DirectWebSocketProtocol,
        "ws_max_size": rt.max_message_size,
        "ws_ping_interval": rt.heartbeat_interval,
        "ws_ping_timeout": rt.heartbeat_interval,
        "ws_per_message_deflate": False,
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        "backlog": 4096,
        "timeout_graceful_shutdown": 5,
    }
    settings.update(overrides)
    return uvicorn.Config(app, **settings)
