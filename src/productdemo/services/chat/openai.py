"""Any OpenAI-compatible chat-completions endpoint, streamed (SSE), with errors a person can act on.

The wire format: ``data: <json>`` events separated by blank lines, ``: ping`` comments between
them, a role-only first chunk, ``delta.content`` that may be null or missing, a chunk with
``finish_reason``, a usage chunk with empty ``choices`` (asked for with
``stream_options.include_usage``) and ``data: [DONE]``. A network read may split an event,
so lines are buffered until the blank line that ends the event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import orjson

from productdemo.services.chat.generators import GeneratorError, Passage, Tally, Turn
from productdemo.services.chat.prompt import chat_messages


class OpenAIGenerator:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        max_tokens: int,
        temperature: float,
        connect_timeout: float,
        stall_timeout: float,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._connect_timeout = connect_timeout
        self._stall = stall_timeout
        # One client for every answer: its TLS context and pooled connections are reused. An
        # answer stopped mid-stream closes its connection rather than returning it to the pool.
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # The read timeout is the stall limit: no byte for that long ends the answer.
            timeout = httpx.Timeout(self._stall, connect=self._connect_timeout)
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
            self._client = httpx.AsyncClient(timeout=timeout, limits=limits)
        return self._client

    def _request(self, question: str, passages: list[Passage], history: Sequence[Turn]) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": chat_messages(question, passages, history),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": self._max_tokens,
            "temperature": self._temperature,
        }

    async def close(self) -> None:
        """Close the pooled connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def stream(
        self, question: str, passages: list[Passage], tally: Tally, history: Sequence[Turn] = ()
    ) -> AsyncIterator[str]:
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            # The pooled client: a new one per answer loads the CA bundle again (tens of ms of
            # CPU each, which 200 answers starting at once pay on the event loop).
            async with self._http().stream(
                "POST", self.url, json=self._request(question, passages, history), headers=headers
            ) as reply:
                if reply.status_code != 200:
                    body = (await reply.aread()).decode("utf-8", "replace")
                    raise GeneratorError(_status_message(reply.status_code, self.url, body))
                finished = False
                async for event in _events(reply.aiter_lines()):
                    if event == "[DONE]":
                        finished = True
                        break
                    text, done = _read_chunk(event, tally)
                    finished = finished or done
                    if text:
                        yield text
        except httpx.ConnectError as exc:
            raise GeneratorError(
                f"could not reach the model at {self.url} ({exc}); is it running? Check [llm] openai_url"
            ) from None
        except httpx.TimeoutException:
            raise GeneratorError(
                f"the model at {self.url} sent nothing for {self._stall:g} s and was given up "
                "([llm] stall_timeout)"
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise GeneratorError(
                f"the connection to the model dropped mid-answer ({exc}); ask again"
            ) from None
        if not finished:
            raise GeneratorError("the model's stream ended before the answer was finished; ask again")


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The data of each server-sent event; comments (``: ping``) and other fields are skipped."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _read_chunk(event: str, tally: Tally) -> tuple[str, bool]:
    """The text a ``chat.completion.chunk`` adds, and whether it carried a finish reason."""
    try:
        chunk = orjson.loads(event)
        if "error" in chunk and not chunk.get("choices"):
            raise GeneratorError(f"the model reported an error: {chunk['error']}")
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            tally.prompt_tokens = usage.get("prompt_tokens")
            tally.completion_tokens = usage.get("completion_tokens")
        text, finished = "", False
        for choice in chunk["choices"]:
            content = (choice.get("delta") or {}).get("content")
            if content:
                text += str(content)
            finished = finished or choice.get("finish_reason") is not None
        return text, finished
    except (ValueError, KeyError, TypeError, AttributeError):
        raise GeneratorError(f"the model sent a malformed stream line: {event[:120]!r}") from None


def _status_message(status: int, url: str, body: str) -> str:
    detail = body.strip().replace("\n", " ")[:200]
    if status == 401:
        return (
            f"the model endpoint {url} refused the API key (HTTP 401); set "
            "PRODUCTDEMO_LLM_OPENAI_API_KEY or [llm] openai_api_key_file"
        )
    if status == 429:
        return f"the model endpoint {url} is rate limiting or out of quota (HTTP 429); try again later"
    if status == 404:
        return f"the model endpoint {url} answered 404: check [llm] openai_url and openai_model ({detail})"
    return f"the model endpoint {url} answered HTTP {status}: {detail}"
