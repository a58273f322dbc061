"""api/health.py: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from tests.support import LiveServer, recv_type


async def test_health_and_ready(server: LiveServer) -> None:
    """/api/health answers ok; /api/ready reports the database and broker reachable."""
    async with server.client() as http:
        assert (await http.get("/api/health")).json() == {"status": "ok"}
        ready = await http.get("/api/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "extraction": "ok"},
    }


async def test_metrics_count_connections_messages_and_closes(server: LiveServer) -> None:
    """/metrics shows open connections, client messages, refused upgrades and closes by code."""
    _, cookie = await server.user_session()
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await ws.send('{"type":"ping","id":"1"}')
        await recv_type(ws, "pong")
        async with server.client() as http:
            text = (await http.get("/metrics")).text
    lines = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if line[:1] != "#"}
    assert lines["productdemo_connections"] >= 1
    assert lines["productdemo_messages_in_total"] >= 1
    assert lines["productdemo_broker_up"] == 1
    async with server.client() as http:
        after = (await http.get("/metrics")).text
    assert 'productdemo_closes_total{code="1000"}' in after
