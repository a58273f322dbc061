"""Shared fixtures: a real server on a loopback port, real HTTP and WebSocket clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import LiveServer, make_config

REQUIRE_SERVICES = os.environ.get("PRODUCTDEMO_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service is missing, unless CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (PRODUCTDEMO_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    """A server with default settings, shared by the tests of one module."""
    live = LiveServer(make_config(tmp_path_factory.mktemp("srv")))
    await live.start()
    yield live
    await live.stop()


@pytest.fixture
async def fresh_server(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LiveServer]:
    """A server of its own for one test; ``@pytest.mark.parametrize`` can't reach it, so
    tests that need settings use ``LiveServer(make_config(...))`` directly."""
    overrides: dict[str, dict[str, Any]] = getattr(request, "param", {})
    live = LiveServer(make_config(tmp_path, **overrides))
    await live.start()
    yield live
    await live.stop()
