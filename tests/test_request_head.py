"""request_head.py and the upgrade: slow, huge or too many unfinished request heads are refused."""

from __future__ import annotations

import asyncio

from tests.support import MS, LiveServer, StartServer

UPGRADE = (
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)


async def _exchange(server: LiveServer, data: bytes, timeout: float = 5000 * MS) -> bytes:
    """Send ``data``; everything the server answers before it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(data)
    try:
        async with asyncio.timeout(timeout):
            return await reader.read()
    finally:
        writer.close()


async def test_upgrade_with_8k_header_line_is_431_and_closed(server: LiveServer) -> None:
    """An upgrade whose Cookie line is over 8 KiB gets 431 and a close, not silence."""
    cookie = "connect.sid=" + "A" * 8192
    answer = await _exchange(server, f"{UPGRADE}Origin: {server.origin}\r\nCookie: {cookie}\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_huge_request_head_is_431(server: LiveServer) -> None:
    """A request head over max_head_size is refused with 431 before it is all buffered."""
    head = b"GET /api/health HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200_000 + b"\r\n\r\n"
    answer = await _exchange(server, head)
    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_head_sent_byte_by_byte_gets_408(start_server: StartServer) -> None:
    """A client trickling its request head is answered 408 and closed at the head deadline."""
    live = await start_server(server={"head_timeout": 500 * MS})
    reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
    started = asyncio.get_running_loop().time()
    answer_task = asyncio.create_task(reader.read())
    try:
        for byte in UPGRADE.encode():
            if answer_task.done():
                break
            writer.write(bytes((byte,)))
            await asyncio.sleep(50 * MS)
        answer = await asyncio.wait_for(answer_task, 2000 * MS)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert asyncio.get_running_loop().time() - started < 1500 * MS


async def test_too_many_unfinished_heads_from_one_address_429(start_server: StartServer) -> None:
    """Past max_half_open_per_address unfinished heads, the next connection is refused with 429."""
    live = await start_server(server={"max_half_open_per_address": 3})
    idle = [await asyncio.open_connection("127.0.0.1", live.port) for _ in range(3)]
    for _, writer in idle:
        writer.write(b"GET / HTTP/1.1\r\n")
    await asyncio.sleep(100 * MS)
    answer = await _exchange(live, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 429 ")
    for _, writer in idle:
        writer.close()
    await asyncio.sleep(100 * MS)
    answer = await _exchange(live, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")


async def test_finished_heads_do_not_count(start_server: StartServer) -> None:
    """Kept-alive connections between requests are not half-open: many of them are served."""
    live = await start_server(server={"max_half_open_per_address": 2})
    async with live.client() as http:
        for _ in range(5):
            assert (await http.get("/api/health")).status_code == 200
