"""The MCP servers page in a real browser: confirm a host key, run an install, reload mid-install."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import TIMEOUT_MS, NewContext, client_config, screenshot, sign_in
from tests.sshd import Sshd, cleanup, fingerprint_of, start_sshd
from tests.support import LiveServer

LINES = [f"line {i}" for i in range(1, 13)]
# One line every 0.4 s, with one on stderr: about five seconds, long enough to reload in between.
COMMAND = "for i in $(seq 1 12); do echo \"line $i\"; [ $i = 6 ] && echo 'line 6b' >&2; sleep 0.4; done"
EXPECTED = [*LINES[:6], "line 6b", *LINES[6:]]
SLOW_MS = 4 * TIMEOUT_MS


@pytest.fixture
async def sshd() -> AsyncIterator[Sshd]:
    daemon = await start_sshd()
    yield daemon
    cleanup(daemon)


@pytest.fixture
async def live(tmp_path: Path, sshd: Sshd) -> AsyncIterator[LiveServer]:
    mcp = {
        "mcp_server_name_1": "Twelve lines",
        "mcp_terminal_command_1": COMMAND,
        "mcp_launch_command_1": sshd.mcp_server_command,
        "poll_interval": 0.2,
    }
    server = LiveServer(client_config(tmp_path, mcp=mcp))
    await server.start()
    yield server
    await server.stop()


async def terminal_lines(page: Page) -> list[str]:
    """The terminal's non-empty rows, as rendered (the whole output fits on the screen)."""
    await page.get_by_test_id("mcp-terminal").scroll_into_view_if_needed()
    rows: list[str] = await page.locator('[data-testid="mcp-terminal"] .xterm-rows > div').all_inner_texts()
    return [row.replace("\xa0", " ").rstrip() for row in rows if row.strip()]


async def test_install_from_the_page_survives_a_reload_and_a_second_viewer(
    live: LiveServer, sshd: Sshd, new_context: NewContext
) -> None:
    """Host key confirmed in the page, exact command confirmed, reload mid-install: exactly the output."""
    _id, admin = await live.create_user("admin")
    page = await (await new_context()).new_page()
    await sign_in(page, live, admin, "/admin/mcp")

    form = page.get_by_role("form", name="Add a host")
    await form.get_by_label("Name", exact=True).fill("box")
    await form.get_by_label("Hostname").fill("127.0.0.1")
    await form.get_by_label("Port").fill(str(sshd.port))
    await form.get_by_label("Username").fill("root")
    await form.get_by_label("Private key").fill(sshd.root_key)
    await form.get_by_role("button", name="Add host").click()
    row = page.get_by_test_id("mcp-host-box")
    await row.get_by_role("button", name="Fetch host key").click()
    await expect(row.get_by_test_id("mcp-fingerprint")).to_have_text(
        fingerprint_of(sshd.root / "host_key.pub")
    )
    await row.get_by_role("button", name="Trust this key").click()
    await expect(row).to_contain_text("Pinned SHA256:")

    await page.get_by_role("button", name="Install…").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_test_id("mcp-confirm-command")).to_have_text(COMMAND)
    await dialog.get_by_role("button", name="Run").click()
    await expect(page).to_have_url(re.compile(r"/admin/mcp/i_[0-9a-f]+$"))
    await expect(page.get_by_test_id("mcp-install-state")).to_have_attribute("data-state", "running")
    await expect(page.get_by_test_id("mcp-terminal")).to_contain_text("line 3")
    install_url = page.url

    await page.reload()
    viewer = await (await new_context()).new_page()
    _id2, second = await live.create_user("admin")
    await sign_in(viewer, live, second, install_url.removeprefix(live.http_url))

    for each in (page, viewer):
        state = each.get_by_test_id("mcp-install-state")
        await expect(state).to_have_attribute("data-state", "succeeded", timeout=SLOW_MS)
        await expect(each.get_by_test_id("mcp-install-message")).to_have_text("installed — 2 tools")
        await expect(each.get_by_role("list", name="Tools")).to_contain_text("add — Add two numbers.")
        expected_bytes = len(("\n".join(EXPECTED) + "\n").encode())
        await expect(each.get_by_test_id("mcp-log-bytes")).to_have_attribute(
            "data-bytes", str(expected_bytes)
        )
        assert await terminal_lines(each) == EXPECTED
    await screenshot(page, "mcp-install-finished")
