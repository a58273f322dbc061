"""Small raw clients shared by the bench scripts: one WebSocket, one keep-alive HTTP connection.

Written on asyncio streams so the client's own cost stays small and visible (no client
library between the socket and the clock). Client frames are masked with a zero key,
which leaves the payload as is (RFC 6455 5.3). Also: the server's CPU time from /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid

CLK = os.sysconf("SC_CLK_TCK")
ORIGIN = "http://127.0.0.1:{port}"


def cpu_ticks_s(pid: int) -> float:
    """utime + stime of every thread of ``pid``, in seconds (1/CLK_TCK resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def cpu_sched_s(pid: int) -> float:
    """On-CPU time of every thread of ``pid`` from schedstat, in seconds (ns resolution)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def text_frame(payload: bytes) -> bytes:
    """A masked (zero key) client text frame."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, 0x80 | n))
    elif n < 65536:
        head = bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 0xFF)) + n.to_bytes(8, "big")
    return head + b"\x00\x00\x00\x00" + payload


class WebSocket:
    """One client socket to ProductDemo's /ws with a session cookie."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, cookie: str, timeout: float = 30) -> WebSocket:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: 13\r\nCookie: connect.sid={cookie}\r\n"
                f"Origin: {ORIGIN.format(port=port)}\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise ConnectionError(head[:80].decode("latin-1"))
        return cls(reader, writer)

    def send(self, obj: object) -> None:
        self.writer.write(text_frame(json.dumps(obj, separators=(",", ":")).encode()))

    async def recv(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload; server pings are answered here."""
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(await self.reader.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await self.reader.readexactly(8), "big")
            payload = await self.reader.readexactly(n) if n else b""
            opcode = b0 & 0x0F
            if opcode == 9:  # ping -> pong
                self.writer.write(bytes((0x8A, 0x80 | len(payload))) + b"\x00\x00\x00\x00" + payload)
                continue
            return opcode, payload

    async def recv_json(self) -> dict[str, object]:
        while True:
            opcode, payload = await self.recv()
            if opcode == 1:
                return json.loads(payload)  # type: ignore[no-any-return]
            if opcode == 8:
                raise ConnectionError(f"closed by the server: {payload[:2].hex()} {payload[2:]!r}")

    def close(self) -> None:
        self.writer.write(b"\x88\x82\x00\x00\x00\x00\x03\xe8")  # close 1000
        self.writer.close()


class Http:
    """One keep-alive HTTP/1.1 connection with a session cookie and the same-origin header."""

    def __init__(self, port: int, cookie: str) -> None:
        self.port = port
        self.cookie = cookie
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Origin: {ORIGIN.format(port=self.port)}\r\nCookie: connect.sid={self.cookie}\r\n"
        )
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(status_head.split(b" ", 2)[1])
        length = 0
        for line in status_head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        data = await self.reader.readexactly(length) if length else b""
        return status, data

    async def post_json(self, path: str, obj: object) -> tuple[int, bytes]:
        return await self.request("POST", path, json.dumps(obj).encode())

    async def upload(self, files: list[tuple[str, bytes]]) -> tuple[int, bytes]:
        """POST /api/documents with form field ``files`` (multipart)."""
        boundary = uuid.uuid4().hex
        parts = []
        for name, data in files:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                "Content-Type: application/pdf\r\n\r\n".encode()
                + data
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return await self.request("POST", "/api/documents", body, f"multipart/form-data; boundary={boundary}")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
