"""The Admin page in a real browser: announcements, and who is connected, live."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, Request, expect

from tests.browser.conftest import (
    NewContext,
    SocketLog,
    expect_connected,
    expect_not_reloaded,
    mark_page,
    screenshot,
    sign_in,
)
from tests.support import MS, LiveServer


async def table_rows(page: Page) -> list[list[str]]:
    """The connections table's body, as text, row by row."""
    rows = page.get_by_test_id("connections-table").locator("tbody").get_by_role("row")
    return [await row.get_by_role("cell").all_inner_texts() for row in await rows.all()]


async def test_announcement_reaches_other_user_as_text(live: LiveServer, new_context: NewContext) -> None:
    """An announcement sent from the Admin page shows in another user's tab as a toast, markup as text."""
    _, admin_name = await live.create_user("admin")
    _, user_name = await live.create_user()
    reader = await (await new_context()).new_page()
    await sign_in(reader, live, user_name)
    await mark_page(reader)
    admin = await (await new_context()).new_page()
    await sign_in(admin, live, admin_name, path="/admin")

    message = "Deploy at noon: <b>bold</b> & <i>more</i>"
    await admin.get_by_label("Message").fill(message)
    await admin.get_by_role("button", name="Send").click()
    await expect(admin.get_by_test_id("announce-result")).to_have_text("Announcement sent to everyone.")
    await screenshot(admin, "admin-page")

    toast = reader.get_by_test_id("toast")
    await expect(toast).to_have_count(1)
    # The message, then "<sender> · <time>", then the dismiss button's "×".
    await expect(toast).to_have_text(re.compile(rf"^{re.escape(f'{message}{admin_name} · ')}\d.*×$"))
    await expect(toast).to_have_attribute("data-level", "info")
    await screenshot(reader, "notification-toast")
    assert await toast.locator("b, i").count() == 0
    await expect_not_reloaded(reader)


async def test_connections_table_updates_live(live: LiveServer, new_context: NewContext) -> None:
    """The Admin page's table follows another user's tabs as they open and close, without polling."""
    admin_id, admin_name = await live.create_user("admin")
    user_id, user_name = await live.create_user()
    admin = await (await new_context()).new_page()
    requests: list[Request] = []
    admin.on("request", lambda request: requests.append(request))
    sockets = SocketLog(admin)
    await sign_in(admin, live, admin_name)
    await admin.get_by_role("link", name="Admin").click()
    table = admin.get_by_test_id("connections-table")
    await expect(table.get_by_role("caption")).to_have_text("1 open connection")
    assert await table_rows(admin) == [[admin_name, str(admin_id), "1"]]

    reader = await (await new_context()).new_page()
    await sign_in(reader, live, user_name)
    await expect(table.get_by_role("caption")).to_have_text("2 open connections")
    second_tab = await reader.context.new_page()
    await second_tab.goto(f"{live.http_url}/chat")
    await expect_connected(second_tab)
    await expect(table.get_by_role("caption")).to_have_text("3 open connections")
    assert await table_rows(admin) == [[admin_name, str(admin_id), "1"], [user_name, str(user_id), "2"]]
    await screenshot(admin, "admin-connections")

    await reader.context.close()
    await expect(table.get_by_role("caption")).to_have_text("1 open connection")
    assert await table_rows(admin) == [[admin_name, str(admin_id), "1"]]

    rpcs = [f for f in sockets.sockets[0].sent if f["type"] == "rpc"]
    await asyncio.sleep(1500 * MS)  # idle: a polling page would ask again
    assert [f for f in sockets.sockets[0].sent if f["type"] == "rpc"] == rpcs
    # connections.list on each change; presence.activity once, telling the tab's input state.
    assert {f["payload"]["method"] for f in rpcs} == {"connections.list", "presence.activity"}
    assert [f["payload"]["method"] for f in rpcs].count("presence.activity") == 1
    assert sockets.urls == [live.ws_url]
    assert [r.url for r in requests if "/api/admin/connections" in r.url] == []
