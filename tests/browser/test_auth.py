"""Signing in and out in a real browser, and what that does to the page's socket."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.browser.conftest import NewContext, SocketLog, expect_connected, screenshot, sign_in
from tests.support import MS, LiveServer


async def test_sign_in_connects(live: LiveServer, new_context: NewContext) -> None:
    """Signing in through the form opens one socket, greeted by hello, and the indicator says connected."""
    _, name = await live.create_user()
    page = await (await new_context()).new_page()
    log = SocketLog(page)
    await page.goto(f"{live.http_url}/documents")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert log.urls == []

    await sign_in(page, live, name)
    await screenshot(page, "signed-in-connected")

    assert log.urls == [live.ws_url]
    hello = log.sockets[0].received[0]
    assert (hello["type"], hello["payload"]["user"]["username"]) == ("hello", name)
    indicator = page.get_by_test_id("connection-state")
    await expect(indicator).to_have_attribute("data-state", "open")
    await expect(indicator).to_have_text("connected")


async def test_sign_out_closes_other_tab(live: LiveServer, new_context: NewContext) -> None:
    """Signing out in one tab closes the socket of the session's other tab, which shows the sign-in page."""
    _, name = await live.create_user()
    context = await new_context()
    first = await context.new_page()
    await sign_in(first, live, name)
    second = await context.new_page()
    log = SocketLog(second)
    await second.goto(f"{live.http_url}/documents")  # the shared cookie signs this tab in
    await expect(second.get_by_test_id("current-user")).to_have_text(name)
    await expect_connected(second)

    await first.get_by_role("button", name="Sign out").click()

    await expect(first.get_by_role("button", name="Sign in")).to_be_visible()
    await expect(first.get_by_test_id("session-notice")).to_have_count(0)
    await expect(second).to_have_url(f"{live.http_url}/login")
    await expect(second.get_by_role("button", name="Sign in")).to_be_visible()
    await expect(second.get_by_test_id("session-notice")).to_have_text(
        "Your session ended: you were signed out elsewhere."
    )
    indicator = second.get_by_test_id("connection-state")
    await expect(indicator).to_have_attribute("data-state", "closed_auth")
    await expect(indicator).to_have_text("signed out elsewhere")
    await expect(second.get_by_test_id("current-user")).to_have_count(0)
    await screenshot(second, "sign-in-after-remote-sign-out")
    await asyncio.sleep(1000 * MS)  # long enough for a reconnect attempt, were one made
    assert log.urls == [live.ws_url]
    assert log.sockets[0].closed


async def test_signed_out_page_opens_no_socket(live: LiveServer, new_context: NewContext) -> None:
    """A signed-out page, on / or on /documents, opens no WebSocket at all."""
    page = await (await new_context()).new_page()
    log = SocketLog(page)
    for path in ("/", "/documents"):
        async with page.expect_response(f"{live.http_url}/api/auth/me") as me:
            await page.goto(f"{live.http_url}{path}")
        assert (await me.value).status == 401
        await expect(page).to_have_url(f"{live.http_url}/login")
        await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        await page.wait_for_load_state("networkidle")

    await screenshot(page, "signed-out-sign-in-page")
    assert log.sockets == []
