"""A loopback stand-in for an OpenAI-compatible endpoint, speaking its real streaming format.

Raw asyncio streams rather than a framework, so a test controls every byte: chunked SSE with a
role-only first chunk, ``: ping`` comments, events split across writes, ``finish_reason``, a
usage chunk with empty ``choices`` and ``[DONE]``; and the failure modes (error statuses,
a stall, a dropped connection, a malformed line, an end without ``[DONE]``). It records each
request and notices when the client closes the connection mid-stream.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["ok", "status", "stall", "drop", "malformed", "no_done"]


@dataclass
class FakeOpenAI:
    tokens: list[str] = field(default_factory=lambda: ["Refunds ", "take ", "five ", "days ", "[1]."])
    delay: float = 0.0
    mode: Mode = "ok"
    status: int = 429
    # The token after which the failure happens (stall, drop, malformed line).
    fail_after: int = 2
    requests: list[dict[str, Any]] = field(default_factory=list)
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)
    tokens_sent: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def start(self) -> FakeOpenAI:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.client_closed.set()
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = json.loads(await reader.readexactly(int(headers["content-length"])))
        self.requests.append({"path": lines[0].split()[1], "headers": headers, "body": body})
        if self.mode == "status":
            error = json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode()
            writer.write(
                f"HTTP/1.1 {self.status} Error\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(error)}\r\nConnection: close\r\n\r\n".encode()
                + error
            )
            await writer.drain()
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        watcher = asyncio.ensure_future(reader.read(1))  # b"" once the client closes
        send = _ChunkedWriter(writer, watcher, self.client_closed)
        await send(_event({"delta": {"role": "assistant", "content": None}, "finish_reason": None}))
        for n, token in enumerate(self.tokens):
            if n == self.fail_after and self.mode != "ok" and self.mode != "no_done":
                await self._fail(send, writer)
                return
            if self.delay:
                await send.sleep(self.delay)
            if n % 3 == 1:
                await send(b": ping\n\n")
            event = _event({"delta": {"content": token}, "finish_reason": None})
            # Split the event across two writes, as a network read may.
            await send(event[:7])
            await send(event[7:])
            self.tokens_sent += 1
        if self.mode == "no_done":
            await send(b"")
            return
        await send(_event({"delta": {}, "finish_reason": "stop"}))
        usage = {
            "prompt_tokens": 42,
            "completion_tokens": len(self.tokens),
            "total_tokens": 42 + len(self.tokens),
        }
        await send(("data: " + json.dumps({"choices": [], "usage": usage, **_META}) + "\n\n").encode())
        await send(b"data: [DONE]\n\n")
        await send(b"")

    async def _fail(self, send: _ChunkedWriter, writer: asyncio.StreamWriter) -> None:
        if self.mode == "stall":
            await send.sleep(3600)
        elif self.mode == "drop":
            writer.transport.abort()
        elif self.mode == "malformed":
            await send(b"data: {not json\n\n")
            await send.sleep(3600)


_META = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "fake"}


def _event(choice: dict[str, Any]) -> bytes:
    return ("data: " + json.dumps({"choices": [{"index": 0, **choice}], **_META}) + "\n\n").encode()


class _ChunkedWriter:
    """Writes HTTP chunks; raises ConnectionError as soon as the client has gone."""

    def __init__(
        self, writer: asyncio.StreamWriter, watcher: asyncio.Future[bytes], closed: asyncio.Event
    ) -> None:
        self._writer = writer
        self._watcher = watcher
        self._closed = closed

    async def __call__(self, data: bytes) -> None:
        self._check()
        self._writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await self._writer.drain()

    async def sleep(self, seconds: float) -> None:
        await asyncio.wait({self._watcher}, timeout=seconds)
        self._check()

    def _check(self) -> None:
        if self._watcher.done():
            self._closed.set()
            raise ConnectionError("client closed the stream")
