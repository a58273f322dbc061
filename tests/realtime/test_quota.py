"""realtime/quota.py: per-user and per-address socket caps, refused at the door with 429."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from websockets.exceptions import InvalidStatus

from productdemo.realtime.quota import SocketQuota
from tests.support import MS, StartServer, recv_type


def test_quota_counts_and_releases() -> None:
    """A user at the cap is refused until one of their sockets is released."""
    quota = SocketQuota(per_user=2, per_address=3)
    assert quota.acquire(1, "a") is None
    assert quota.acquire(1, "a") is None
    assert quota.acquire(1, "a") == "too many open sockets for this user (at most 2); close some tabs"
    assert quota.acquire(2, "a") is None
    assert quota.acquire(3, "a") == "too many open sockets from this address (at most 3)"
    quota.release(1, "a")
    assert quota.acquire(1, "a") is None
    for _ in range(3):
        quota.release(1, "a")
    assert not quota.users[1]


async def test_sockets_past_the_user_cap_are_refused_429(start_server: StartServer) -> None:
    """A socket past max_sockets_per_user is refused 429 with a reason; closing one frees a place."""
    live = await start_server(realtime={"max_sockets_per_user": 3})
    _, cookie = await live.user_session()
    _, other = await live.user_session()
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(live.connect(cookie)) for _ in range(3)]
        for ws in sockets:
            await recv_type(ws, "hello")
        with pytest.raises(InvalidStatus) as info:
            async with live.connect(cookie):
                pass
        assert info.value.response.status_code == 429
        assert b"too many open sockets for this user" in info.value.response.body
        async with live.connect(other) as ws:  # another user is not affected
            await recv_type(ws, "hello")
        await sockets[0].close()
        await asyncio.sleep(100 * MS)
        async with live.connect(cookie) as ws:
            await recv_type(ws, "hello")


async def test_sockets_past_the_address_cap_are_refused_429(start_server: StartServer) -> None:
    """Sockets from one address beyond max_sockets_per_address are refused with 429 whoever opens them."""
    live = await start_server(realtime={"max_sockets_per_address": 2})
    cookies = [(await live.user_session())[1] for _ in range(3)]
    async with live.connect(cookies[0]) as a, live.connect(cookies[1]) as b:
        await recv_type(a, "hello")
        await recv_type(b, "hello")
        with pytest.raises(InvalidStatus) as info:
            async with live.connect(cookies[2]):
                pass
        assert info.value.response.status_code == 429
