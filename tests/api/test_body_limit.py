"""api/body_limit.py and the upload route: bodies are capped and never read before they may be."""

from __future__ import annotations

import asyncio
import os

from tests.support import MS, LiveServer, StartServer


async def _raw(server: LiveServer, head: str, chunks: list[bytes] | None = None) -> tuple[bytes, int]:
    """Send a request head, then body chunks while the server has not answered.

    Returns the answer and how many chunks were sent before it came.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(head.encode())
    answer_task = asyncio.create_task(reader.read())
    sent = 0
    try:
        for chunk in chunks or []:
            if answer_task.done():
                break
            try:
                writer.write(chunk)
                await writer.drain()
            except ConnectionError:
                break
            sent += 1
            await asyncio.sleep(0)
        return await asyncio.wait_for(answer_task, 5000 * MS), sent
    finally:
        writer.close()


def _head(server: LiveServer, path: str, headers: dict[str, str]) -> str:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", f"Origin: {server.origin}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def test_large_declared_json_body_is_refused_unread(server: LiveServer) -> None:
    """A login body declaring 64 MiB gets 413 at once, before any of it is sent, and a close."""
    head = _head(
        server, "/api/auth/login", {"Content-Type": "application/json", "Content-Length": str(64 << 20)}
    )
    answer, _ = await _raw(server, head)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"code":"too_large"' in answer and b"connection: close" in answer.lower()


async def test_chunked_json_body_is_stopped_at_the_limit(server: LiveServer) -> None:
    """A chunked JSON body is counted as it streams and answered 413 soon after the limit."""
    head = _head(
        server, "/api/auth/login", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    )
    chunks = [_chunk(b" " * 16384)] * 1024  # 16 MiB if all were read
    answer, sent = await _raw(server, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert sent < 200


async def test_upload_without_session_is_401_before_the_body(server: LiveServer) -> None:
    """An unauthenticated chunked upload is answered 401 without the server waiting for its body."""
    head = _head(
        server,
        "/api/documents",
        {"Content-Type": "multipart/form-data; boundary=xyz", "Transfer-Encoding": "chunked"},
    )
    answer, _ = await _raw(server, head)  # no body at all: the answer must not wait for one
    assert answer.startswith(b"HTTP/1.1 401 ")


async def test_upload_declaring_700_mib_is_413_at_once(server: LiveServer) -> None:
    """A signed-in upload declaring 700 MiB is answered 413 before its body is sent."""
    _, cookie = await server.user_session()
    head = _head(
        server,
        "/api/documents",
        {
            "Content-Type": "multipart/form-data; boundary=xyz",
            "Content-Length": str(700 << 20),
            "Cookie": f"connect.sid={cookie}",
        },
    )
    answer, _ = await _raw(server, head)
    assert answer.startswith(b"HTTP/1.1 413 ")


async def test_chunked_upload_is_stopped_at_the_limit_and_leaves_no_files(start_server: StartServer) -> None:
    """A signed-in chunked upload past the limit gets 413 mid-stream; no spooled file stays open."""
    live = await start_server(documents={"max_upload_size": 10_000})
    _, cookie = await live.user_session()
    head = _head(
        live,
        "/api/documents",
        {
            "Content-Type": "multipart/form-data; boundary=xyz",
            "Transfer-Encoding": "chunked",
            "Cookie": f"connect.sid={cookie}",
        },
    )
    fds_before = len(os.listdir("/proc/self/fd"))
    part = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\n'
    chunks = [_chunk(part)] + [_chunk(b"a" * 65536)] * 400  # 26 MiB if all were read
    answer, sent = await _raw(live, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert sent < 100
    await asyncio.sleep(100 * MS)
    assert len(os.listdir("/proc/self/fd")) <= fds_before
