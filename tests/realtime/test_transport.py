"""realtime/transport.py: frame building and graceful shutdown of a real server process."""

from __future__ import annotations

import asyncio
import signal

import pytest
from websockets.exceptions import ConnectionClosed

from productdemo.realtime.transport import text_frame
from tests.scaleout.cluster import Cluster
from tests.support import MS, recv_json


@pytest.mark.parametrize(
    ("size", "header"), [(5, b"\x81\x05"), (200, b"\x81\x7e\x00\xc8"), (70000, b"\x81\x7f")]
)
def test_text_frame_lengths(size: int, header: bytes) -> None:
    """text_frame uses the 7-bit, 16-bit and 64-bit length forms of RFC 6455."""
    frame = text_frame(b"a" * size)
    assert frame.startswith(header)
    assert frame.endswith(b"a" * size)


async def test_sigterm_closes_sockets_with_1001(processes: Cluster) -> None:
    """On SIGTERM the server closes open sockets with 1001 and exits promptly."""
    await processes.create_user("ann")
    [server] = await processes.start()
    cookie = await processes.login(server, "ann")
    async with server.connect(cookie) as ws:
        assert (await recv_json(ws))["type"] == "hello"
        server.proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as info:
            await recv_json(ws, timeout=5000 * MS)
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (1001, "server shutting down")
    # uvicorn re-raises the captured SIGTERM once shut down: the normal exit status.
    assert await asyncio.to_thread(server.proc.wait, 10) in (0, -signal.SIGTERM)
