"""In a real browser: stored notifications and read state across tabs, who is online, the dashboard."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import NewContext, screenshot, sign_in
from tests.support import LiveServer


async def test_missed_notifications_show_at_sign_in_and_read_state_syncs_across_tabs(
    live: LiveServer, new_context: NewContext
) -> None:
    """Notifications sent while offline are listed at sign-in; marking read in one tab updates the other."""
    user_id, name = await live.create_user()
    for n in range(3):
        await live.services.notifications.announce(f"while you were away {n}", "root", user_id)
    context = await new_context()
    first = await context.new_page()
    await sign_in(first, live, name)
    second = await context.new_page()
    await second.goto(f"{live.http_url}/documents")
    await expect(second.get_by_test_id("current-user")).to_have_text(name)
    for page in (first, second):
        await expect(page.get_by_test_id("notifications-toggle")).to_have_text("Notifications (3)")
        await page.get_by_test_id("notifications-toggle").click()
        await expect(page.get_by_test_id("notification-list").get_by_role("listitem")).to_have_count(3)

    await (
        first.get_by_role("listitem")
        .filter(has_text="away 1")
        .get_by_role("button", name="Mark read")
        .click()
    )
    for page in (first, second):
        await expect(page.get_by_test_id("notifications-toggle")).to_have_text("Notifications (2)")
        item = page.get_by_test_id("notification-list").get_by_role("listitem").filter(has_text="away 1")
        await expect(item).to_have_attribute("data-read", "true")

    await second.get_by_test_id("mark-all-read").click()
    for page in (first, second):
        await expect(page.get_by_test_id("notifications-toggle")).to_have_text("Notifications")
        await expect(page.locator("[data-read=false]")).to_have_count(0)
    await screenshot(first, "notifications-read")


async def test_online_list_and_live_dashboard(live: LiveServer, new_context: NewContext) -> None:
    """Another user appears in the online list when they sign in and leaves with their last tab;
    the Admin page counts her tabs and the dashboard the sockets."""
    _, admin_name = await live.create_user("admin")
    _, user_name = await live.create_user()
    admin = await (await new_context()).new_page()
    await sign_in(admin, live, admin_name, path="/admin")
    online = admin.get_by_test_id("presence-list")
    await expect(online.get_by_role("listitem").filter(has_text=admin_name)).to_have_count(1)
    await expect(admin.locator("[data-figure='connections.connections'] td").nth(1)).to_have_text("1")

    user = await (await new_context()).new_page()
    await sign_in(user, live, user_name)
    await expect(online.get_by_role("listitem").filter(has_text=user_name)).to_have_attribute(
        "data-status", "active"
    )
    await expect(admin.locator("[data-figure='connections.connections'] td").nth(1)).to_have_text("2")
    second_tab = await user.context.new_page()
    await second_tab.goto(f"{live.http_url}/documents")
    row = admin.get_by_test_id("online-table").locator(f"tr[data-user='{user_name}'] td")
    await expect(row.nth(2)).to_have_text("2")  # the admin view counts her tabs
    await second_tab.close()
    await expect(row.nth(2)).to_have_text("1")
    await screenshot(admin, "admin-dashboard")
    await user.close()
    await expect(online.get_by_role("listitem").filter(has_text=user_name)).to_have_count(0)
    await expect(admin.locator("[data-figure='connections.connections'] td").nth(1)).to_have_text("1")
