"""Browser fixtures: one headless Chromium for the session, a live server serving the built client.

Run these tests in their own pytest invocation (``pytest tests/browser``), apart from the rest.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    WebSocket,
    async_playwright,
    expect,
)

from productdemo.config import Config
from tests.support import MS, PASSWORD, LiveServer, make_config

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CLIENT_DIR = ROOT / "client" / "dist"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REQUIRE_SERVICES = os.environ.get("PRODUCTDEMO_REQUIRE_SERVICES") == "1"

#: Playwright's timeouts are in milliseconds: this is 5 s, scaled like every test time.
TIMEOUT_MS = 5000 * MS * 1000

NewContext = Callable[[], Awaitable[BrowserContext]]


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not (CLIENT_DIR / "index.html").exists():
        return f"{CLIENT_DIR / 'index.html'} is missing (cd client && npm ci && npm run build)"
    return None


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    """The async Playwright driver (skips the folder, or fails under PRODUCTDEMO_REQUIRE_SERVICES=1)."""
    if (reason := _missing()) is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason} (PRODUCTDEMO_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    async with async_playwright() as driver:
        expect.set_options(timeout=TIMEOUT_MS)
        yield driver


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    """Debian's headless Chromium, shared by every test."""
    chromium = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    await chromium.close()


def client_config(data_dir: Path, **sections: dict[str, Any]) -> Config:
    """A test config whose server serves the built client at /; ``sections`` override more settings."""
    return make_config(data_dir, server={"client_dir": str(CLIENT_DIR)}, **sections)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A server of its own for one test, serving the built client at /."""
    server = LiveServer(client_config(tmp_path))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def new_context(browser: Browser) -> AsyncIterator[NewContext]:
    """Makes browser contexts (separate cookie jars: separate people); closes them after the test."""
    contexts: list[BrowserContext] = []

    async def make() -> BrowserContext:
        context = await browser.new_context(viewport={"width": 1100, "height": 700})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await context.close()


async def sign_in(page: Page, live: LiveServer, username: str, path: str = "/documents") -> None:
    """Sign in through the form at ``/login`` and wait until the socket is connected on ``path``."""
    await page.goto(f"{live.http_url}{path}")
    await expect(page).to_have_url(f"{live.http_url}/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("current-user")).to_have_text(username)
    await expect(page).to_have_url(f"{live.http_url}{path}")
    await expect_connected(page)


async def expect_connected(page: Page) -> None:
    """The connection indicator says the socket is open."""
    indicator = page.get_by_test_id("connection-state")
    await expect(indicator).to_have_attribute("data-state", "open")
    await expect(indicator).to_have_text("connected")


async def mark_page(page: Page) -> None:
    """Tag the page's window; :func:`expect_not_reloaded` finds the tag only if it was not reloaded."""
    await page.evaluate("() => { window.__productdemoMark = 'kept'; }")


async def expect_not_reloaded(page: Page) -> None:
    """The tag set by :func:`mark_page` is still there: the page was not reloaded."""
    assert await page.evaluate("() => window.__productdemoMark ?? null") == "kept"


async def screenshot(page: Page, name: str) -> None:
    """Save ``test-artifacts/<name>.png`` (git-ignored), for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png")


@dataclass
class SocketRecord:
    """One WebSocket a page opened, as the browser saw it."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False


class SocketLog:
    """Every WebSocket a page opens, with the frames it sent and received, in order."""

    def __init__(self, page: Page) -> None:
        self.sockets: list[SocketRecord] = []
        page.on("websocket", self._opened)

    def _opened(self, socket: WebSocket) -> None:
        record = SocketRecord(socket.url)
        self.sockets.append(record)
        socket.on("framereceived", lambda payload: record.received.append(_frame(payload)))
        socket.on("framesent", lambda payload: record.sent.append(_frame(payload)))
        socket.on("close", lambda _socket: setattr(record, "closed", True))

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.sockets]

    def received_types(self, index: int = -1) -> list[str]:
        return [f["type"] for f in self.sockets[index].received]


def _frame(payload: str | bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(payload)
    return value
