"""The web client over https: the page picks wss: from location.protocol and gets a live socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import CLIENT_DIR, TIMEOUT_MS, SocketLog, sign_in
from tests.support import LiveServer, make_config
from tests.tls import make_certificate


@pytest.fixture
async def tls_live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    cert = make_certificate(tmp_path / "tls")
    tls = {"tls_certfile": str(cert.certfile), "tls_keyfile": str(cert.keyfile)}
    server = LiveServer(make_config(tmp_path, server={"client_dir": str(CLIENT_DIR), **tls}))
    await server.start()
    yield server
    await server.stop()


async def test_app_over_https_gets_a_live_wss_socket(browser: Browser, tls_live: LiveServer) -> None:
    """Signed in over https, the page's one socket is wss:// and live; the cookie is Secure."""
    # The certificate was made by the test; Chromium is told to accept it, as it would a real one.
    context = await browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = await context.new_page()
        sockets = SocketLog(page)
        _, name = await tls_live.create_user()
        await sign_in(page, tls_live, name)
        assert sockets.urls and all(url == f"wss://127.0.0.1:{tls_live.port}/ws" for url in sockets.urls)
        await expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "open")
        async with asyncio.timeout(TIMEOUT_MS / 1000):
            while "hello" not in sockets.received_types():
                await asyncio.sleep(0.05)
        (cookie,) = [c for c in await context.cookies() if c["name"] == "connect.sid"]
        assert cookie["secure"] and cookie["httpOnly"]
    finally:
        await context.close()
