"""realtime/transport.py: frame building and graceful shutdown of a real server process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from productdemo.realtime.transport import text_frame
from tests.support import MS, PASSWORD, recv_json


@pytest.mark.parametrize(
    ("size", "header"), [(5, b"\x81\x05"), (200, b"\x81\x7e\x00\xc8"), (70000, b"\x81\x7f")]
)
def test_text_frame_lengths(size: int, header: bytes) -> None:
    """text_frame uses the 7-bit, 16-bit and 64-bit length forms of RFC 6455."""
    frame = text_frame(b"a" * size)
    assert frame.startswith(header)
    assert frame.endswith(b"a" * size)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sigterm_closes_sockets_with_1001(tmp_path: Path) -> None:
    """On SIGTERM the server closes open sockets with 1001 and exits promptly."""
    port = _free_port()
    env = {
        **os.environ,
        "PRODUCTDEMO_STORAGE_DATA_DIR": str(tmp_path),
        "PRODUCTDEMO_SECURITY_ARGON2_TIME_COST": "1",
        "PRODUCTDEMO_SECURITY_ARGON2_MEMORY_KIB": "1024",
        "PRODUCTDEMO_SERVER_CLIENT_DIR": str(tmp_path / "none"),
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [bin_dir / "productdemo", "users", "create", "ann", "--role", "user", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [bin_dir / "productdemo", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, headers={"Origin": base}) as http:
            for _ in range(200):
                try:
                    response = await http.post(
                        "/api/auth/login", json={"username": "ann", "password": PASSWORD}
                    )
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(50 * MS)
            cookie = response.cookies["connect.sid"]
        headers = {"Cookie": f"connect.sid={cookie}", "Origin": base}
        async with connect(f"ws://127.0.0.1:{port}/ws", additional_headers=headers) as ws:
            assert (await recv_json(ws))["type"] == "hello"
            proc.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as info:
                await recv_json(ws, timeout=5000 * MS)
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (1001, "server shutting down")
        # uvicorn re-raises the captured SIGTERM once shut down: the normal exit status.
        assert proc.wait(timeout=10) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
