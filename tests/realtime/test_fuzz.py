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
        return b"\xff\xfe\x80" + rng.randbytes(rng.randrange(0, 20))
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


def _burst(rng: random.Random, size: int) -> list[bytes]:
    """Frames that are mostly well-formed on the wire (continuations only inside a message),
    with odd content, and now and then a broken one."""
    frames: list[bytes] = []
    in_message = False
    for _ in range(size):
        if rng.random() < 0.03:  # reserved opcode, RSV bits, unmasked, long or fragmented control frame
            broken = rng.randrange(5)
            if broken == 0:
                frames.append(client_frame(rng.choice([3, 4, 5, 6, 7, 0xB, 0xF]), rng.randbytes(4)))
            elif broken == 1:
                frame = bytearray(client_frame(1, b"{}"))
                frame[0] |= 0x70
                frames.append(bytes(frame))
            elif broken == 2:
                frames.append(bytes((0x81, 2)) + b"{}")
            elif broken == 3:
                frames.append(client_frame(0x0, b"}"))  # a continuation with no message open
            else:
                frames.append(client_frame(0x9, rng.randbytes(200), fin=rng.random() < 0.5))
            continue
        if rng.random() < 0.25:
            frames.append(
                client_frame(
                    rng.choice([0x9, 0xA]), rng.randbytes(rng.randrange(0, 126)), mask=rng.randbytes(4)
                )
            )
            continue
        fin = rng.random() < 0.7
        opcode = 0x0 if in_message else rng.choice([0x1, 0x1, 0x1, 0x2])
        frames.append(client_frame(opcode, _payload(rng), fin=fin, mask=rng.randbytes(4)))
        in_message = not fin
    return frames


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
            burst = _burst(rng, rng.randrange(10, 120))
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
