"""The page's socket across a server restart, in a real browser."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import expect

from tests.browser.conftest import (
    NewContext,
    SocketLog,
    client_config,
    expect_connected,
    expect_not_reloaded,
    mark_page,
    screenshot,
    sign_in,
)
from tests.support import LiveServer


async def test_restart_reconnects_without_reload(tmp_path: Path, new_context: NewContext) -> None:
    """Stopping the server shows "reconnecting in Ns"; once it is back, the same page is connected again."""
    first = LiveServer(client_config(tmp_path))
    await first.start()
    try:
        _, name = await first.create_user()
        page = await (await new_context()).new_page()
        log = SocketLog(page)
        await sign_in(page, first, name)
        await mark_page(page)
    finally:
        await first.stop()

    # One locator for both, so the state and the words are checked in the same render.
    reconnecting = page.get_by_test_id("connection-state").and_(page.locator('[data-state="reconnecting"]'))
    await expect(reconnecting).to_have_text(re.compile(r"^reconnecting in \d+s$"))
    await screenshot(page, "reconnecting")

    # The same data directory (users, sessions) on the same port: the browser's cookie still holds.
    second = LiveServer(first.config)
    second.port = first.port
    await second.start()
    try:
        await expect_connected(page)
        await expect(page.get_by_test_id("current-user")).to_have_text(name)
        await expect_not_reloaded(page)
        assert log.urls[0] == log.urls[-1] == second.ws_url
        assert len(log.urls) >= 2
        assert log.received_types(-1)[0] == "hello"
    finally:
        await second.stop()
