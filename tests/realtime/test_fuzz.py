"""A live, seeded fuzz of the WebSocket layer: thousands of malformed frames, then business as usual.

Random and malformed frames (text, binary, fragments, control frames, reserved opcodes
and bits, unmasked frames, oversized control frames, invalid UTF-8, JSON junk) go to a
real server over raw sockets. Afterwards another user's ping round trip is what it was
before, and the server's log holds no traceback and nothing at ERROR.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import statistics

import pytest

from tests.support import MS, LiveServer, RawClient, StartServer, client_frame, recv_type, send_json

SEED = 1313
FRAMES = 3000


def _payload(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 300))
    if kind == 1:
        return b"\xff\xfe" + rng.randbytes(rng.randrange(0, 20))
    if kind == 2:
        junk = {
            "type": rng.choice(["ping", "rpc", "subscribe", "resume", "x", 7]),
            "id": rng.randrange(-(2**70), 2**70),
        }
        return json.dumps(junk).encode()
    if kind == 3:
        depth = rng.randrange(1, 3000)
        return b'{"type":"ping","payload":' + b"[" * depth + b"]" * depth + b"}"
    if kind == 4:
        return json.dumps({"type": "rpc", "id": "r", "payload": {"method": "connections.list"}}).encode()
    return b'{"type":"ping","id":"\\ud800"}'


def _frame(rng: random.Random) -> bytes:
    """One frame, usually well-formed on the wire with odd content, sometimes broken."""
    roll = rng.random()
    if roll < 0.03:  # reserved opcode, RSV bits, unmasked, or a control frame too long or fragmented
        broken = rng.randrange(4)
        if broken == 0:
            return client_frame(rng.choice([3, 4, 5, 6, 7, 0xB, 0xF]), rng.randbytes(4))
        if broken == 1:
            frame = bytearray(client_frame(1, b"{}"))
            frame[0] |= 0x70
            return bytes(frame)
        if broken == 2:
            return bytes((0x81, 2)) + b"{}"
        return client_frame(0x9, rng.randbytes(200), fin=rng.random() < 0.5)
    opcode = rng.choice([0x0, 0x1, 0x1, 0x2, 0x9, 0xA])
    payload = _payload(rng) if opcode in (0x1, 0x2, 0x0) else rng.randbytes(rng.randrange(0, 126))
    fin = rng.random() < 0.8
    return client_frame(opcode, payload, fin=fin, mask=rng.randbytes(4))


async def _ping_rtt(ws: object, n: int) -> float:
    loop = asyncio.get_running_loop()
    times = []
    for i in range(n):
        started = loop.time()
        await send_json(ws, {"type": "ping", "id": f"p{i}"})  # type: ignore[arg-type]
        await recv_type(ws, "pong")  # type: ignore[arg-type]
        times.append(loop.time() - started)
        await asyncio.sleep(0.02)
    return statistics.median(times)


async def _fuzz(live: LiveServer, cookie: str, rng: random.Random) -> int:
    """Send FRAMES frames in bursts over fresh sockets; returns how many sockets the server closed."""
    sent = closed = 0
    while sent < FRAMES:
        raw = await RawClient.open(live, cookie, rcvbuf=1 << 16)
        try:
            burst = [_frame(rng) for _ in range(rng.randrange(10, 120))]
            raw.writer.write(b"".join(burst))
            sent += len(burst)
            try:
                frames = await raw.read_frames(timeout=300 * MS)
                closed += any(opcode == 8 for opcode, _ in frames)
            except TimeoutError:
                pass
        except ConnectionError:
            closed += 1
        finally:
            raw.close()
    return closed


async def test_seeded_fuzz_leaves_the_server_healthy(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """3,000 seeded malformed frames: others' latency stays normal, the log has no traceback."""
    caplog.set_level(logging.INFO)
    live = await start_server()
    _, calm = await live.user_session()
    _, fuzzer = await live.user_session()
    async with live.connect(calm) as ws:
        await recv_type(ws, "hello")
        before = await _ping_rtt(ws, 20)
        closed = await _fuzz(live, fuzzer, random.Random(SEED))
        after = await _ping_rtt(ws, 20)
    assert closed > 10  # the fuzz did reach the rules that close a socket
    assert after < before * 5 + 50 * MS, (before, after)
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert record.levelno < logging.ERROR, record.getMessage()
