"""TLS for real: `productdemo serve` with a certificate made by the test, verifying clients."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support import MS, PASSWORD, recv_json
from tests.tls import make_certificate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_speaks_https_and_wss_with_a_secure_cookie(tmp_path: Path) -> None:
    """serve --ssl-certfile/--ssl-keyfile: verified HTTPS, a Secure cookie, a verified wss:// socket."""
    cert = make_certificate(tmp_path / "tls")
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
        [bin_dir / "productdemo", "users", "create", "tia", "--role", "user", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    args = [
        "serve",
        "--port",
        str(port),
        "--ssl-certfile",
        str(cert.certfile),
        "--ssl-keyfile",
        str(cert.keyfile),
    ]
    proc = subprocess.Popen(
        [bin_dir / "productdemo", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    context = cert.client_context()
    base = f"https://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers={"Origin": base}, verify=context) as http:
            for _ in range(300):
                try:
                    response = await http.post(
                        "/api/auth/login", json={"username": "tia", "password": PASSWORD}
                    )
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(50 * MS)
            assert response.status_code == 200
            set_cookie = response.headers["set-cookie"]
            assert "connect.sid=" in set_cookie and "Secure" in set_cookie and "HttpOnly" in set_cookie
            cookie = response.cookies["connect.sid"]
        headers = {"Cookie": f"connect.sid={cookie}", "Origin": base}
        async with connect(f"wss://127.0.0.1:{port}/ws", additional_headers=headers, ssl=context) as ws:
            hello = await recv_json(ws)
            assert hello["type"] == "hello" and hello["payload"]["user"]["username"] == "tia"
        # A client that does not trust the certificate is refused by its own verification.
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(f"wss://127.0.0.1:{port}/ws", additional_headers=headers):
                pass
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None and proc.stderr is not None
        assert f"ProductDemo on https://127.0.0.1:{port}" in proc.stdout.read().decode()
        proc.stdout.close()
        proc.stderr.close()
