"""TLS for real: `productdemo serve` with a certificate made by the test, verifying clients."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.scaleout.cluster import Cluster
from tests.support import PASSWORD, recv_json
from tests.tls import make_certificate


async def test_serve_speaks_https_and_wss_with_a_secure_cookie(processes: Cluster, tmp_path: Path) -> None:
    """serve --ssl-certfile/--ssl-keyfile: verified HTTPS, a Secure cookie, a verified wss:// socket."""
    processes.tls = make_certificate(tmp_path / "tls")
    await processes.create_user("tia")
    [server] = await processes.start()
    async with server.client() as http:
        response = await http.post("/api/auth/login", json={"username": "tia", "password": PASSWORD})
    assert response.status_code == 200
    set_cookie = response.headers["set-cookie"]
    assert "connect.sid=" in set_cookie and "Secure" in set_cookie and "HttpOnly" in set_cookie
    cookie = response.cookies["connect.sid"]
    async with server.connect(cookie) as ws:
        hello = await recv_json(ws)
        assert hello["type"] == "hello" and hello["payload"]["user"]["username"] == "tia"
    # A client that does not trust the certificate is refused by its own verification.
    with pytest.raises(ssl.SSLCertVerificationError):
        headers = {"Cookie": f"connect.sid={cookie}", "Origin": server.origin}
        async with connect(f"wss://127.0.0.1:{server.port}/ws", additional_headers=headers):
            pass
    assert f"ProductDemo on https://127.0.0.1:{server.port}" in server.output()
