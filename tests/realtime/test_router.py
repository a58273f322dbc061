"""realtime/router.py over a real socket: replies carry ids, bad input gets precise errors."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.exceptions import ConnectionClosed

from productdemo.realtime.router import Router, RpcContext
from tests.support import MS, LiveServer, make_config, recv_json, recv_type, send_json


async def _ready(server: LiveServer, role: str = "user") -> tuple[int, str]:
    return await server.user_session(role)


async def test_ping_gets_pong_with_id(server: LiveServer) -> None:
    """ping is answered by pong carrying the same id and the server time."""
    _, cookie = await _ready(server)
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await send_json(ws, {"type": "ping", "id": "7"})
        pong = await recv_type(ws, "pong")
        assert pong["id"] == "7"
        assert isinstance(pong["payload"]["serverTime"], int)


@pytest.mark.parametrize(
    ("text", "code", "frame_id"),
    [
        ("not json", "bad_request", None),
        ('{"type":"teleport","id":"1"}', "unknown_type", "1"),
        ('{"type":"subscribe","id":"2","payload":{}}', "bad_request", "2"),
        ('{"type":"rpc","id":"3","payload":{"method":"no.such"}}', "unknown_method", "3"),
        ('{"type":"subscribe","id":"4","payload":{"topic":"nosuchkind:x"}}', "not_found", "4"),
    ],
)
async def test_bad_input_gets_an_error_and_the_socket_stays_open(
    server: LiveServer, text: str, code: str, frame_id: str | None
) -> None:
    """Malformed, unknown and invalid frames get an error frame; the socket keeps working."""
    _, cookie = await _ready(server)
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await ws.send(text)
        error = await recv_type(ws, "error")
        assert error["payload"]["code"] == code
        assert error.get("id") == frame_id
        assert error["payload"]["message"]
        await send_json(ws, {"type": "ping", "id": "still-here"})
        assert (await recv_type(ws, "pong"))["id"] == "still-here"


async def test_admin_topic_is_forbidden_for_users(server: LiveServer) -> None:
    """Subscribing to an admin topic as a user gets error forbidden."""
    _, cookie = await _ready(server)
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await send_json(ws, {"type": "subscribe", "id": "s", "payload": {"topic": "admin:connections"}})
        error = await recv_type(ws, "error")
        assert (error["id"], error["payload"]["code"]) == ("s", "forbidden")


async def test_admin_follows_connections(server: LiveServer) -> None:
    """An admin subscribed to admin:connections gets connections_changed when a user connects."""
    _, admin_cookie = await _ready(server, "admin")
    user_id, user_cookie = await _ready(server)
    async with server.connect(admin_cookie) as admin_ws:
        await recv_type(admin_ws, "hello")
        await send_json(admin_ws, {"type": "subscribe", "id": "s", "payload": {"topic": "admin:connections"}})
        ack = await recv_type(admin_ws, "ack")
        assert ack["id"] == "s"
        assert ack["payload"]["stream"] == "topic:admin:connections"
        async with server.connect(user_cookie) as user_ws:
            await recv_type(user_ws, "hello")
            while True:
                event = await recv_type(admin_ws, "connections_changed")
                if event["payload"]["userId"] == user_id:
                    break
            assert event["payload"]["connections"] == 1
            assert event["stream"] == "topic:admin:connections"
            assert event["seq"] > ack["payload"]["seq"]


async def test_connections_list_is_admin_only(server: LiveServer) -> None:
    """connections.list answers admins with users and counts, and refuses users."""
    _, admin_cookie = await _ready(server, "admin")
    user_id, user_cookie = await _ready(server)
    async with server.connect(admin_cookie) as admin_ws, server.connect(user_cookie) as user_ws:
        await recv_type(admin_ws, "hello")
        await recv_type(user_ws, "hello")
        await send_json(user_ws, {"type": "rpc", "id": 1, "payload": {"method": "connections.list"}})
        error = await recv_type(user_ws, "error")
        assert (error["id"], error["payload"]["code"]) == (1, "forbidden")
        await send_json(admin_ws, {"type": "rpc", "id": 2, "payload": {"method": "connections.list"}})
        result = (await recv_type(admin_ws, "rpc_result"))["payload"]["result"]
        mine = [u for u in result["users"] if u["userId"] == user_id]
        assert mine[0]["connections"] == 1
        assert result["total"] >= 2


async def test_session_info(server: LiveServer) -> None:
    """session.info returns the caller's user and connection id."""
    user_id, cookie = await _ready(server)
    async with server.connect(cookie) as ws:
        hello = await recv_type(ws, "hello")
        await send_json(ws, {"type": "rpc", "id": "i", "payload": {"method": "session.info", "params": {}}})
        result = (await recv_type(ws, "rpc_result"))["payload"]["result"]
        assert result["user"]["id"] == user_id
        assert result["connectionId"] == hello["payload"]["connectionId"]
        assert result["sessionExpiresIn"] > 0


async def test_unsubscribe_stops_delivery(server: LiveServer) -> None:
    """After unsubscribe, events on the topic no longer arrive."""
    _, cookie = await _ready(server, "admin")
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await send_json(ws, {"type": "subscribe", "id": "s", "payload": {"topic": "admin:connections"}})
        await recv_type(ws, "ack")
        await send_json(ws, {"type": "unsubscribe", "id": "u", "payload": {"topic": "admin:connections"}})
        ack = await recv_type(ws, "ack")
        assert ack == {"type": "ack", "id": "u", "payload": {"topic": "admin:connections"}}
        _, other = await _ready(server)
        async with server.connect(other) as other_ws:
            await recv_type(other_ws, "hello")
            with pytest.raises(asyncio.TimeoutError):
                await recv_type(ws, "connections_changed", timeout=300 * MS)


async def test_flood_is_rate_limited_then_closed(tmp_path: object) -> None:
    """Past the rate a client gets rate_limited errors; sustained flooding closes it with 4429;
    another client keeps working meanwhile."""
    config = make_config(tmp_path, realtime={"rate_limit": 5, "rate_burst": 5, "rate_abuse_threshold": 20})  # type: ignore[arg-type]
    live = LiveServer(config)
    await live.start()
    try:
        _, flood_cookie = await live.user_session()
        _, calm_cookie = await live.user_session()
        async with live.connect(flood_cookie) as flood, live.connect(calm_cookie) as calm:
            await recv_type(flood, "hello")
            await recv_type(calm, "hello")
            for i in range(40):
                await send_json(flood, {"type": "ping", "id": i})
            codes = []
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    frame = await recv_json(flood)
                    codes.append(frame["payload"].get("code") if frame["type"] == "error" else frame["type"])
            assert info.value.rcvd is not None and info.value.rcvd.code == 4429
            assert codes[:5] == ["pong"] * 5
            assert "rate_limited" in codes
            await send_json(calm, {"type": "ping", "id": "calm"})
            assert (await recv_type(calm, "pong"))["id"] == "calm"
    finally:
        await live.stop()


async def test_oversize_frame_closes_with_1009(server: LiveServer) -> None:
    """A frame over max_message_size closes the socket with 1009; others are unaffected."""
    _, cookie = await _ready(server)
    _, other_cookie = await _ready(server)
    async with server.connect(cookie, max_size=None) as ws, server.connect(other_cookie) as other:
        await recv_type(ws, "hello")
        await recv_type(other, "hello")
        big = orjson.dumps({"type": "ping", "id": "x", "pad": "a" * server.config.realtime.max_message_size})
        await ws.send(big.decode())
        with pytest.raises(ConnectionClosed) as info:
            await recv_json(ws)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        await send_json(other, {"type": "ping", "id": "ok"})
        assert (await recv_type(other, "pong"))["id"] == "ok"


async def test_failing_rpc_is_internal_and_logged(tmp_path: object, caplog: pytest.LogCaptureFixture) -> None:
    """An RPC method that raises gives error internal with the id; the socket stays open."""
    live = LiveServer(make_config(tmp_path))  # type: ignore[arg-type]
    await live.start()
    try:
        router: Router = live.app.websocket.router  # type: ignore[union-attr]

        async def broken(_ctx: RpcContext, _params: object) -> None:
            raise RuntimeError("kaput")

        router.add_rpc("test.broken", broken)
        _, cookie = await live.user_session()
        async with live.connect(cookie) as ws:
            await recv_type(ws, "hello")
            await send_json(ws, {"type": "rpc", "id": "b", "payload": {"method": "test.broken"}})
            error = await recv_type(ws, "error")
            assert error == {
                "type": "error",
                "id": "b",
                "payload": {"code": "internal", "message": "internal error"},
            }
            await send_json(ws, {"type": "ping", "id": "p"})
            assert (await recv_type(ws, "pong"))["id"] == "p"
        assert any("kaput" in (r.exc_text or "") for r in caplog.records)
    finally:
        await live.stop()


async def test_resume_of_another_users_stream_is_forbidden(server: LiveServer) -> None:
    """resume naming another user's stream is refused with forbidden."""
    user_id, cookie = await _ready(server)
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        streams = {f"user:{user_id + 1000}": {"epoch": "e", "seq": 0}}
        await send_json(ws, {"type": "resume", "id": "r", "payload": {"streams": streams}})
        error = await recv_type(ws, "error")
        assert (error["id"], error["payload"]["code"]) == ("r", "forbidden")
