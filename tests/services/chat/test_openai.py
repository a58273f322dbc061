"""services/chat/openai.py against a loopback server speaking the OpenAI streaming format."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from productdemo.services.chat.events import Source
from productdemo.services.chat.generators import GeneratorError, Passage, Tally
from productdemo.services.chat.openai import OpenAIGenerator
from tests.services.chat.fake_openai import FakeOpenAI
from tests.support import MS

PASSAGES = [
    Passage(
        Source(
            n=1,
            document_id="d_1",
            filename="policy.md",
            chunk_index=0,
            page=None,
            section="Refunds",
            start=0,
            end=40,
            quote="Refunds take five days.",
        ),
        "Refunds take five days.",
    ),
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    yield server
    await server.close()


def _generator(url: str, key: str = "sk-test", stall: float = 5000 * MS) -> OpenAIGenerator:
    return OpenAIGenerator(url, "fake-model", key, 100, 0.2, 2000 * MS, stall)


async def _collect(generator: OpenAIGenerator, tally: Tally | None = None) -> str:
    pieces = [p async for p in generator.stream("How long do refunds take?", PASSAGES, tally or Tally())]
    return "".join(pieces)


async def test_streams_text_and_usage_and_sends_a_proper_request(fake: FakeOpenAI) -> None:
    """Split events, pings and the role-only chunk are read right; usage comes from the last chunk."""
    tally = Tally()
    assert await _collect(_generator(fake.url), tally) == "Refunds take five days [1]."
    assert (tally.prompt_tokens, tally.completion_tokens) == (42, 5)
    (request,) = fake.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-test"
    body = request["body"]
    assert (body["model"], body["stream"], body["stream_options"]) == (
        "fake-model",
        True,
        {"include_usage": True},
    )
    assert "[1] (policy.md, Refunds)\nRefunds take five days." in body["messages"][1]["content"]


@pytest.mark.parametrize(
    ("status", "says"),
    [(429, "rate limiting"), (401, "PRODUCTDEMO_LLM_OPENAI_API_KEY"), (500, "HTTP 500")],
)
async def test_error_statuses_say_what_to_do(fake: FakeOpenAI, status: int, says: str) -> None:
    """429, 401 and other statuses end with a message naming the cause."""
    fake.mode, fake.status = "status", status
    with pytest.raises(GeneratorError, match=says):
        await _collect(_generator(fake.url))


async def test_refused_connection_names_the_url() -> None:
    """Nothing listening: the error names the URL and the setting to check."""
    server = await FakeOpenAI().start()
    url = server.url
    await server.close()
    with pytest.raises(GeneratorError, match="could not reach the model at .*openai_url"):
        await _collect(_generator(url))


async def test_malformed_line_fails(fake: FakeOpenAI) -> None:
    """A data line that is not JSON ends the answer with a quote of it."""
    fake.mode = "malformed"
    with pytest.raises(GeneratorError, match="malformed stream line: '\\{not json'"):
        await _collect(_generator(fake.url))


async def test_stall_fails_after_the_stall_timeout(fake: FakeOpenAI) -> None:
    """No byte for stall_timeout seconds gives up, and closes the connection."""
    fake.mode = "stall"
    with pytest.raises(GeneratorError, match="sent nothing for"):
        await _collect(_generator(fake.url, stall=300 * MS))
    await asyncio.wait_for(fake.client_closed.wait(), 2000 * MS)


@pytest.mark.parametrize("mode", ["drop", "no_done"])
async def test_a_stream_cut_short_fails(fake: FakeOpenAI, mode: str) -> None:
    """A dropped connection, or a stream that ends without finishing, is not a complete answer."""
    fake.mode = mode  # type: ignore[assignment]
    with pytest.raises(GeneratorError, match="dropped mid-answer|ended before the answer was finished"):
        await _collect(_generator(fake.url))


async def test_closing_the_stream_closes_the_upstream_connection(fake: FakeOpenAI) -> None:
    """Cancelling the consumer (Stop) closes the HTTP connection: the server sees it at once."""
    fake.delay, fake.tokens = 50 * MS, [f"t{n} " for n in range(200)]

    async def consume() -> None:
        await _collect(_generator(fake.url))

    task = asyncio.ensure_future(consume())
    while fake.tokens_sent < 3:
        await asyncio.sleep(10 * MS)
    task.cancel()
    await asyncio.wait_for(fake.client_closed.wait(), 1000 * MS)
    assert fake.tokens_sent < 20
