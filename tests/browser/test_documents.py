"""The Documents page in a real browser: live processing without polling, a restart, search, two tabs."""

from __future__ import annotations

import asyncio
import functools
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import FilePayload, Locator, Page, Request, Response, expect
from sqlalchemy import text

from productdemo.storage.database import create_engine
from tests import sample_files
from tests.browser.conftest import (
    TIMEOUT_MS,
    NewContext,
    client_config,
    expect_connected,
    expect_not_reloaded,
    mark_page,
    screenshot,
    sign_in,
)
from tests.support import MS, LiveServer

PDF = "application/pdf"
#: Processing several long PDFs one after another, or reconnecting after a restart, takes longer.
SLOW_MS = 3 * TIMEOUT_MS

#: Records, on every change of a row's status or progress, ``[id, status, progress]`` in
#: ``window.__documentStates``; consecutive duplicates of one row are left out.
RECORD_STATES = """() => {
  const states = [];
  const last = new Map();
  const record = () => {
    for (const row of document.querySelectorAll('[data-testid="document-row"]')) {
      const id = row.dataset.documentId;
      const bar = row.querySelector("progress");
      const state = [id, row.dataset.status, Number(bar ? bar.getAttribute("aria-valuenow") : -1)];
      const key = state.join(" ");
      if (last.get(id) !== key) {
        last.set(id, key);
        states.push(state);
      }
    }
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["data-status", "aria-valuenow"],
  });
  window.__documentStates = states;
}"""


@functools.cache
def report_pdf(pages: int, repeats: int) -> bytes:
    """A PDF of ``pages`` pages of prose, made once per session (fpdf2 takes a second or two)."""
    line = "The quarterly report on seabirds, their colonies and their long migrations. "
    return sample_files.pdf([f"Page {n}. {line * repeats}" for n in range(1, pages + 1)])


def file_payload(name: str, mime: str, data: bytes) -> FilePayload:
    return {"name": name, "mimeType": mime, "buffer": data}


class RequestLog:
    """The page's HTTP requests as (method, path), with a mark after each upload's response."""

    UPLOADED = ("UPLOADED", "")

    def __init__(self, page: Page) -> None:
        self.entries: list[tuple[str, str]] = []
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request: Request) -> None:
        self.entries.append((request.method, urlsplit(request.url).path))

    def _response(self, response: Response) -> None:
        request = response.request
        if (request.method, urlsplit(request.url).path) == ("POST", "/api/documents"):
            self.entries.append(self.UPLOADED)

    def count(self, method: str, path: str, since: int = 0) -> int:
        return self.entries[since:].count((method, path))

    def after_upload(self) -> list[tuple[str, str]]:
        """The requests since the first upload's response arrived."""
        return self.entries[self.entries.index(self.UPLOADED) + 1 :]


async def upload(page: Page, *files: FilePayload) -> list[dict[str, Any]]:
    """Pick ``files`` with the page's file input; returns the documents ``POST /api/documents`` created."""
    async with page.expect_response(
        lambda r: r.request.method == "POST" and urlsplit(r.url).path == "/api/documents"
    ) as info:
        await page.get_by_label("Upload documents").set_input_files(list(files))
    response = await info.value
    assert response.status == 201, await response.text()
    documents: list[dict[str, Any]] = (await response.json())["documents"]
    assert [d["filename"] for d in documents] == [f["name"] for f in files]
    return documents


def document_row(page: Page, document_id: str) -> Locator:
    return page.locator(f'[data-testid="document-row"][data-document-id="{document_id}"]')


async def row_statuses(page: Page) -> dict[str, str | None]:
    """Every row's data-status, by document id."""
    rows = await page.get_by_test_id("document-row").all()
    return {
        str(await r.get_attribute("data-document-id")): await r.get_attribute("data-status") for r in rows
    }


async def test_processing_is_shown_live_without_polling(live: LiveServer, new_context: NewContext) -> None:
    """A 40-page PDF picked in the page shows processing, then completed, live and without status requests."""
    data = report_pdf(40, 12)
    _, name = await live.create_user()
    page = await (await new_context()).new_page()
    requests = RequestLog(page)
    await sign_in(page, live, name)
    await page.evaluate(RECORD_STATES)

    [document] = await upload(page, file_payload("report.pdf", PDF, data))
    row = document_row(page, document["id"])
    await expect(row.get_by_test_id("document-filename")).to_have_text("report.pdf")
    await expect(row).to_have_attribute("data-status", "completed", timeout=SLOW_MS)
    bar = page.get_by_role("progressbar", name="Processing of report.pdf")
    await expect(bar).to_have_attribute("aria-valuenow", "100")
    await expect(bar).to_have_js_property("value", 100)
    await expect(row.get_by_test_id("document-status")).to_have_text("Ready")
    await expect(row.get_by_test_id("document-message")).to_have_text(
        re.compile(r"^Ready: \d+ chunks? indexed$")
    )
    await expect(row.get_by_test_id("document-error")).to_have_count(0)
    await screenshot(page, "documents-completed")

    await asyncio.sleep(1000 * MS)  # idle: a polling page would ask again
    states = [s for s in await page.evaluate("() => window.__documentStates") if s[0] == document["id"]]
    progress = [p for _, _, p in states]
    assert progress == sorted(progress), states
    assert states[-1] == [document["id"], "completed", 100]
    assert any(status == "processing" and 0 < p < 100 for _, status, p in states), states

    # One list on mount, one more when the socket first opened; nothing after the upload, and the
    # document is never fetched on its own (its events may beat the upload's answer: that waits).
    assert requests.count("GET", "/api/documents") <= 2, requests.entries
    after = requests.after_upload()
    assert ("GET", "/api/documents") not in after, after
    assert requests.count("GET", f"/api/documents/{document['id']}") == 0, requests.entries


async def unfinished_documents(live: LiveServer) -> int:
    """How many documents the (stopped) server's database holds that are not completed."""
    engine = create_engine(live.config.database_url)
    try:
        async with engine.connect() as db:
            count = await db.scalar(text("SELECT count(*) FROM documents WHERE status <> 'completed'"))
    finally:
        await engine.dispose()
    return int(count or 0)


async def test_restart_mid_processing_ends_with_true_statuses(
    tmp_path: Path, new_context: NewContext
) -> None:
    """After a restart in the middle of processing, the same page ends showing every document completed."""
    data = report_pdf(60, 24)
    first = LiveServer(client_config(tmp_path, documents={"concurrency": 1}))
    await first.start()
    try:
        _, name = await first.create_user()
        page = await (await new_context()).new_page()
        requests = RequestLog(page)
        await sign_in(page, first, name)
        await mark_page(page)
        files = [file_payload(f"part-{n}.pdf", PDF, data) for n in range(1, 5)]
        documents = await upload(page, *files)
        # One at a time: the first is processing, the others wait behind it.
        processing = page.locator('[data-testid="document-row"][data-status="processing"]')
        await expect(processing).to_have_count(1)
        await processing.scroll_into_view_if_needed()
        await screenshot(page, "documents-processing")
        before_restart = len(requests.entries)
    finally:
        await first.stop(keep_database=True)
    unfinished = await unfinished_documents(first)

    second = LiveServer(first.config)
    second.port = first.port
    await second.start()
    try:
        assert unfinished >= 1, "processing ended before the restart"
        # The reconnect backoff grew while the server was down: allow for it, then check as usual.
        indicator = page.get_by_test_id("connection-state")
        await expect(indicator).to_have_attribute("data-state", "open", timeout=SLOW_MS)
        await expect_connected(page)
        for document in documents:
            await expect(document_row(page, document["id"])).to_have_attribute(
                "data-status", "completed", timeout=SLOW_MS
            )
        async with second.client(cookies={"connect.sid": await second.login(name)}) as http:
            response = await http.get("/api/documents")
        response.raise_for_status()
        truth = {d["id"]: d["status"] for d in response.json()["documents"]}
        assert truth == {d["id"]: "completed" for d in documents}
        assert await row_statuses(page) == truth
        for document in documents:
            bar = page.get_by_role("progressbar", name=f"Processing of {document['filename']}")
            await expect(bar).to_have_attribute("aria-valuenow", "100")
        await expect_not_reloaded(page)
        # The new server's streams have new epochs: the page read the list again (no reload).
        assert requests.count("GET", "/api/documents", since=before_restart) >= 1, requests.entries
        assert requests.count("GET", "/documents", since=before_restart) == 0, requests.entries
    finally:
        await second.stop()


async def test_search_highlights_matches_and_keeps_markup_literal(
    live: LiveServer, new_context: NewContext
) -> None:
    """Searching a completed document shows its snippet with the match in <mark> and its markup as text."""
    _, name = await live.create_user()
    page = await (await new_context()).new_page()
    await sign_in(page, live, name)
    body = "The wandering albatross glides for hours over the Southern Ocean. <b>x</b> marks its nest."
    [document] = await upload(page, file_payload("birds.txt", "text/plain", body.encode()))
    await expect(document_row(page, document["id"])).to_have_attribute("data-status", "completed")

    await page.get_by_test_id("search-input").fill("albatross")
    result = page.get_by_test_id("search-results").get_by_test_id("search-result")
    await expect(result).to_have_count(1)
    await expect(result).to_have_attribute("data-document-id", document["id"])
    snippet = result.get_by_test_id("search-snippet")
    await expect(snippet.locator("mark")).to_have_text(["albatross"])
    await expect(snippet).to_contain_text("<b>x</b> marks")
    assert await snippet.locator("b").count() == 0
    await screenshot(page, "documents-search")


async def test_search_by_meaning_says_why_each_hit_matched(tmp_path: Path, new_context: NewContext) -> None:
    """With the real model, a query sharing no word finds the passage and says it matched by meaning."""
    live = LiveServer(client_config(tmp_path, retrieval={"model": "minilm"}))
    await live.start()
    try:
        _, name = await live.create_user()
        page = await (await new_context()).new_page()
        await sign_in(page, live, name)
        body = "# Vehicles\n\nThe automobile needs new tyres before the winter trip.\n"
        [document] = await upload(page, file_payload("garage.md", "text/markdown", body.encode()))
        await expect(document_row(page, document["id"])).to_have_attribute("data-status", "completed")

        await page.get_by_test_id("search-input").fill("car maintenance")
        result = page.get_by_test_id("search-results").get_by_test_id("search-result")
        await expect(result.first).to_have_attribute("data-document-id", document["id"])
        await expect(result.first.get_by_test_id("search-match")).to_have_text("matched meaning")
        await page.get_by_test_id("search-mode").select_option("lexical")
        await expect(page.get_by_test_id("search-results")).to_contain_text("Nothing matches")
        await page.get_by_test_id("search-input").fill("automobile tyres")
        await page.get_by_test_id("search-mode").select_option("hybrid")
        await expect(result.first.get_by_test_id("search-match")).to_have_text("matched words and meaning")
        await expect(result.first.get_by_test_id("search-snippet").locator("mark")).to_have_text(
            ["automobile", "tyres"]
        )
        await screenshot(page, "documents-search-meaning")
    finally:
        await live.stop()


async def test_two_tabs_see_an_upload_complete(live: LiveServer, new_context: NewContext) -> None:
    """Two tabs of one user both see a document uploaded in one of them reach completed, without reload."""
    _, name = await live.create_user()
    context = await new_context()
    first = await context.new_page()
    await sign_in(first, live, name)
    second = await context.new_page()
    await second.goto(f"{live.http_url}/documents")
    await expect_connected(second)
    await expect(second.get_by_test_id("documents-list").get_by_role("caption")).to_have_text(
        "No documents yet. Upload one to get started."
    )
    for page in (first, second):
        await mark_page(page)

    [document] = await upload(first, file_payload("shared.pdf", PDF, report_pdf(40, 12)))
    for page in (first, second):
        row = document_row(page, document["id"])
        await expect(row).to_have_attribute("data-status", "completed", timeout=SLOW_MS)
        await expect(row.get_by_test_id("document-filename")).to_have_text("shared.pdf")
        bar = page.get_by_role("progressbar", name="Processing of shared.pdf")
        await expect(bar).to_have_attribute("aria-valuenow", "100")
        await expect_not_reloaded(page)
