"""realtime/transport.py: frames from a hostile peer cost the server nothing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from productdemo.realtime.transport import DirectWebSocketProtocol
from tests.support import MS, LiveServer, RawClient, StartServer, client_frame, close_code

TEXT, BINARY, CONT, PING = 0x1, 0x2, 0x0, 0x9


async def _ws_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert record.levelno < logging.ERROR, record.getMessage()


async def test_invalid_utf8_closes_1007_with_one_quiet_line(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A text frame that is not UTF-8 closes with 1007 and logs one INFO line naming the connection."""
    _, cookie = await server.user_session()
    raw = await RawClient.open(server, cookie)
    caplog.clear()
    caplog.set_level(logging.INFO)
    raw.writer.write(client_frame(TEXT, b"\xff\xfe\x80"))
    frames = await raw.read_frames()
    raw.close()
    assert close_code(frames) == 1007
    lines = [r for r in caplog.records if "UTF-8" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO and lines[0].getMessage().startswith("c_")
    await _ws_logs_clean(caplog)


async def test_endless_empty_fragments_close_1008(server: LiveServer) -> None:
    """A message split into more than max_fragments frames is closed with 1008, not buffered forever."""
    _, cookie = await server.user_session()
    raw = await RawClient.open(server, cookie)
    raw.writer.write(client_frame(TEXT, b"{", fin=False) + client_frame(CONT, fin=False) * 20_000)
    frames = await raw.read_frames()
    raw.close()
    assert close_code(frames) == 1008
    assert b"fragments" in frames[-1][1]


async def test_slow_fragmented_message_closes_1008(start_server: StartServer) -> None:
    """A fragmented message not finished within fragment_timeout is closed with 1008."""
    live = await start_server(realtime={"fragment_timeout": 300 * MS})
    _, cookie = await live.user_session()
    raw = await RawClient.open(live, cookie)
    raw.writer.write(client_frame(TEXT, b'{"type":', fin=False))
    await asyncio.sleep(400 * MS)
    raw.writer.write(client_frame(CONT, b'"ping"}', fin=True))
    frames = await raw.read_frames()
    raw.close()
    assert close_code(frames) == 1008
    assert b"too long" in frames[-1][1]


async def test_ping_flood_is_rate_limited_4429(server: LiveServer) -> None:
    """Pings spend the connection's rate-limit tokens: a flood of them closes with 4429, then hangs up."""
    _, cookie = await server.user_session()
    raw = await RawClient.open(server, cookie, rcvbuf=1 << 20)
    raw.writer.write(client_frame(PING) * 5_000)
    frames = await raw.read_frames()
    assert close_code(frames) == 4429
    pongs = [f for f in frames if f[0] == 0xA]
    assert len(pongs) <= server.config.realtime.rate_burst + 5
    # The flooder is not owed a close handshake: its input is dropped and it is hung up on.
    raw.writer.write(client_frame(PING) * 5_000)
    assert await asyncio.wait_for(raw.reader.read(), 3000 * MS) == b""
    raw.close()


async def test_unread_pongs_do_not_pile_up(start_server: StartServer) -> None:
    """A peer that pings and never reads gets at most one pong queued once the send buffer is full."""
    live = await start_server(realtime={"rate_limit": 1e9, "rate_burst": 10**9})
    user_id, cookie = await live.user_session()
    raw = await RawClient.open(live, cookie, rcvbuf=4096)
    ping = client_frame(PING, b"p" * 125)
    for _ in range(40):  # 40 x 1,000 pings: 5.2 MB of pongs if every one were queued
        raw.writer.write(ping * 1000)
        await raw.writer.drain()
    await asyncio.sleep(200 * MS)
    (conn,) = live.services.hub.registry.of_user(user_id)
    protocol = conn.transport
    assert isinstance(protocol, DirectWebSocketProtocol)
    assert protocol.transport.get_write_buffer_size() < 512 * 1024
    raw.close()


async def test_binary_flood_is_rate_limited_4429(server: LiveServer) -> None:
    """Binary frames spend tokens too: a flood of them is closed with 4429, not ignored forever."""
    _, cookie = await server.user_session()
    raw = await RawClient.open(server, cookie, rcvbuf=1 << 20)
    raw.writer.write(client_frame(BINARY, b"\x00") * 500)
    frames = await raw.read_frames()
    raw.close()
    assert close_code(frames) == 4429


async def test_a_flood_of_tiny_frames_is_parsed_a_slice_per_loop_turn(start_server: StartServer) -> None:
    """2 MiB of empty pings in one write never hold the event loop: little of the time goes to long stalls."""
    live = await start_server(realtime={"rate_limit": 1e9, "rate_burst": 10**9})
    _, cookie = await live.user_session()
    raw = await RawClient.open(live, cookie, rcvbuf=1 << 20)
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def tick() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = loop.time()
    raw.writer.write(client_frame(PING) * 350_000)
    await raw.writer.drain()
    await asyncio.sleep(1500 * MS)
    ticker.cancel()
    elapsed = loop.time() - started
    stalled = sum(g for g in gaps if g > 0.05)
    raw.close()
    # Without slicing nearly all of it is one long stall per 256 KiB read (measured: 99.9%).
    assert stalled / elapsed < 0.5, (stalled, elapsed, max(gaps))
