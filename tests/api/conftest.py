"""Fixtures for the HTTP API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import LiveServer, make_config

StartServer = Callable[..., Awaitable[LiveServer]]


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Start servers with special settings (``security={...}``); all are stopped after the test."""
    started: list[LiveServer] = []

    async def start(**sections: dict[str, Any]) -> LiveServer:
        live = LiveServer(make_config(tmp_path / f"srv{len(started)}", **sections))
        await live.start()
        started.append(live)
        return live

    yield start
    for live in started:
        await live.stop()
