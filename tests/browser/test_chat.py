"""The Chat page in a real browser: reload mid-answer, two tabs, Stop after a reload, citations."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.api.test_chat import POLICY, _upload
from tests.browser.conftest import TIMEOUT_MS, NewContext, client_config, screenshot, sign_in
from tests.services.chat.fake_openai import FakeOpenAI
from tests.support import MS, LiveServer

WORDS = [f"word{n} " for n in range(60)]
WHOLE = "".join(WORDS)
SLOW_MS = 4 * TIMEOUT_MS


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI(tokens=WORDS, delay=80 * MS).start()
    yield server
    await server.close()


@pytest.fixture
async def model_live(tmp_path: Path, fake: FakeOpenAI) -> AsyncIterator[LiveServer]:
    server = LiveServer(client_config(tmp_path, llm={"provider": "openai", "openai_url": fake.url}))
    await server.start()
    yield server
    await server.stop()


async def _ask(page: Page, question: str) -> None:
    await page.get_by_label("Your question").fill(question)
    await page.get_by_role("button", name="Ask").click()


async def _answer_so_far(page: Page, fake: FakeOpenAI, tokens: int) -> str:
    while fake.tokens_sent < tokens:
        await asyncio.sleep(20 * MS)
    text = page.get_by_test_id("answer-text").last
    await expect(text).to_contain_text("word3 ")
    return await text.inner_text()


async def test_reload_mid_answer_shows_the_text_so_far_then_continues(
    model_live: LiveServer, fake: FakeOpenAI, new_context: NewContext
) -> None:
    """After a reload mid-answer the page shows the text so far and the Stop button, then the
    answer continues with nothing repeated and nothing missing."""
    _, name = await model_live.create_user()
    page = await (await new_context()).new_page()
    await sign_in(page, model_live, name, "/chat")
    await _ask(page, "Tell me about the words")
    before = await _answer_so_far(page, fake, 8)
    await page.reload()
    answer = page.get_by_test_id("answer").last
    await expect(page.get_by_role("button", name="Stop", exact=True)).to_be_visible()
    after = await page.get_by_test_id("answer-text").last.inner_text()
    assert after.startswith(before.strip()), (before, after)
    await expect(answer).to_have_attribute("data-status", "complete", timeout=SLOW_MS)
    await expect(page.get_by_test_id("answer-text").last).to_have_text(WHOLE.strip())
    await expect(page.get_by_role("button", name="Stop", exact=True)).to_have_count(0)
    await screenshot(page, "chat-after-reload")


async def test_a_second_tab_follows_the_list_and_the_answer(
    model_live: LiveServer, fake: FakeOpenAI, new_context: NewContext
) -> None:
    """A conversation started in one tab appears in the other's list; opened there mid-answer,
    the same answer streams to the end in both."""
    _, name = await model_live.create_user()
    context = await new_context()
    first = await context.new_page()
    await sign_in(first, model_live, name, "/chat")
    second = await context.new_page()
    await second.goto(f"{model_live.http_url}/chat")
    await expect(second.get_by_test_id("conversation-list")).to_have_count(0)
    await _ask(first, "Both tabs please")
    entry = second.get_by_role("button", name=re.compile(r"^Both tabs please"))
    await expect(entry).to_be_visible()
    await _answer_so_far(first, fake, 5)
    await entry.click()
    for page in (first, second):
        await expect(page.get_by_test_id("answer").last).to_have_attribute(
            "data-status", "complete", timeout=SLOW_MS
        )
        await expect(page.get_by_test_id("answer-text").last).to_have_text(WHOLE.strip())


async def test_stop_after_a_reload_stops_the_model(
    model_live: LiveServer, fake: FakeOpenAI, new_context: NewContext
) -> None:
    """The Stop button shown after a reload stops the answer: the model's connection closes and
    the partial answer stays, marked as stopped."""
    _, name = await model_live.create_user()
    page = await (await new_context()).new_page()
    await sign_in(page, model_live, name, "/chat")
    await _ask(page, "Stop me")
    await _answer_so_far(page, fake, 6)
    await page.reload()
    await page.get_by_role("button", name="Stop", exact=True).click()
    await asyncio.wait_for(fake.client_closed.wait(), 2000 * MS)
    answer = page.get_by_test_id("answer").last
    await expect(answer).to_have_attribute("data-status", "cancelled")
    await expect(answer).to_contain_text("Stopped: the answer so far is kept.")
    assert fake.tokens_sent < len(WORDS)
    await page.reload()
    await expect(page.get_by_test_id("answer").last).to_have_attribute("data-status", "cancelled")


async def test_a_citation_opens_the_cited_passage(tmp_path: Path, new_context: NewContext) -> None:
    """The extractive answer cites [1]; clicking it shows the passage of the user's document, and
    the page says how to switch to a model."""
    server = LiveServer(client_config(tmp_path))
    await server.start()
    try:
        _, name = await server.create_user()
        await _upload(server, await server.login(name), "policy.md", POLICY)
        page = await (await new_context()).new_page()
        await sign_in(page, server, name, "/chat")
        await expect(page.get_by_test_id("generator-note")).to_contain_text("provider = llama")
        await _ask(page, "When do parcels ship?")
        await expect(page.get_by_test_id("answer").last).to_have_attribute("data-status", "complete")
        await page.get_by_role("button", name="Source 1: policy.md").first.click()
        panel = page.get_by_test_id("source-panel")
        await expect(panel).to_contain_text("policy.md · Shipping")
        await expect(panel).to_contain_text("Parcels ship from the harbour warehouse every Tuesday.")
        await screenshot(page, "chat-citation")
    finally:
        await server.stop()
