"""A Python client that follows the resume rules of docs/websocket-protocol.md.

It mirrors the browser's StreamTracker (client/src/realtime/streams.ts): dedupe by seq,
buffer and resume on a gap or after a reconnect, honour ``skipped`` notices, and record
``resync_required``. Tests use it to check the server's delivery guarantees end to end.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.support import LiveServer


class ResumingClient:
    def __init__(self, server: LiveServer, cookie: str, topics: tuple[str, ...] = ()) -> None:
        self.server = server
        self.cookie = cookie
        self.topics = topics
        self.positions: dict[str, tuple[str, int]] = {}
        self.delivered: dict[str, list[dict[str, Any]]] = {}
        self.resyncs: list[dict[str, Any]] = []
        self.skipped: dict[str, set[int]] = {}
        self.buffers: dict[str, dict[int, dict[str, Any]]] = {}
        self.connects = 0
        self.ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._resume_ids: set[str] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected (reconnecting whenever the socket drops) until ``stop`` is set."""
        while not stop.is_set():
            try:
                async with self.server.connect(self.cookie, max_queue=None) as ws:
                    self.ws = ws
                    self.connects += 1
                    await self._session(ws)
            except (ConnectionClosed, OSError):
                pass
            finally:
                self.ws = None
                self.buffers.clear()

    def drop(self) -> None:
        """Lose the connection abruptly, as a network failure would."""
        if self.ws is not None:
            self.ws.transport.abort()

    async def _send(self, ws: ClientConnection, frame: dict[str, Any]) -> str:
        frame_id = str(next(self._ids))
        await ws.send(orjson.dumps({**frame, "id": frame_id}).decode())
        return frame_id

    async def _session(self, ws: ClientConnection) -> None:
        async for message in ws:
            frame = orjson.loads(message)
            kind = frame["type"]
            if kind == "hello":
                await self._on_hello(ws, frame["payload"]["streams"])
            elif kind == "ack":
                await self._on_ack(ws, frame)
            elif kind == "resync_required":
                self.resyncs.append(frame["payload"])
                p = frame["payload"]
                self.positions[p["stream"]] = (p["epoch"], p["seq"])
                self.buffers.pop(p["stream"], None)
            elif kind == "skipped":
                p = frame["payload"]
                self.skipped.setdefault(p["stream"], set()).update(p["seqs"])
                self._skip_ahead(p["stream"])
            elif "seq" in frame:
                await self._on_event(ws, frame)

    async def _on_hello(self, ws: ClientConnection, streams: dict[str, dict[str, Any]]) -> None:
        for topic in self.topics:
            await self._send(ws, {"type": "subscribe", "payload": {"topic": topic}})
        resume = {}
        for stream, pos in streams.items():
            if stream not in self.positions:
                self.positions[stream] = (pos["epoch"], pos["seq"])
        for stream, (epoch, seq) in self.positions.items():
            resume[stream] = {"epoch": epoch, "seq": seq}
            self.buffers[stream] = {}
        if resume:
            self._resume_ids.add(await self._send(ws, {"type": "resume", "payload": {"streams": resume}}))

    async def _on_ack(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        payload = frame["payload"]
        if "stream" in payload and payload["stream"] not in self.positions:
            self.positions[payload["stream"]] = (payload["epoch"], payload["seq"])
        if frame["id"] in self._resume_ids:
            self._resume_ids.discard(frame["id"])
            for stream in payload["streams"]:
                buffered = self.buffers.pop(stream, {})
                for seq in sorted(buffered):
                    await self._on_event(ws, buffered[seq])

    async def _on_event(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        stream, seq = frame["stream"], frame["seq"]
        self._skip_ahead(stream)
        epoch, last = self.positions.get(stream, ("", seq - 1))
        if seq <= last:
            return
        buffer = self.buffers.get(stream)
        if buffer is not None:
            buffer[seq] = frame
            return
        if seq != last + 1:
            self.buffers[stream] = {seq: frame}
            streams = {stream: {"epoch": epoch, "seq": last}}
            self._resume_ids.add(await self._send(ws, {"type": "resume", "payload": {"streams": streams}}))
            return
        self.positions[stream] = (epoch, seq)
        self.delivered.setdefault(stream, []).append(frame)

    def _skip_ahead(self, stream: str) -> None:
        skipped = self.skipped.get(stream)
        if not skipped or stream not in self.positions:
            return
        epoch, seq = self.positions[stream]
        while seq + 1 in skipped:
            skipped.discard(seq + 1)
            seq += 1
        self.positions[stream] = (epoch, seq)
