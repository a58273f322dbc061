"""realtime/keepalive.py: one timer serves every socket's keepalive deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from productdemo.realtime.keepalive import KeepaliveWheel
from tests.support import MS


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(5000 * MS):
        while not check():
            await asyncio.sleep(10 * MS)


class Socket:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.fired: list[float] = []

    def keepalive_due(self) -> None:
        self.fired.append(self.loop.time())


async def test_deadlines_fire_in_order_no_earlier_and_at_most_a_slot_late() -> None:
    loop = asyncio.get_running_loop()
    wheel = KeepaliveWheel(0.2)  # slots of 50 ms
    early, late = Socket(loop), Socket(loop)
    start = loop.time()
    wheel.at(late, 0.15)
    wheel.at(early, 0.05)
    await _until(lambda: bool(late.fired))
    assert len(early.fired) == 1 and len(late.fired) == 1
    # Never early; late by at most a slot, plus whatever a busy machine adds (not timed here).
    assert 0.05 <= early.fired[0] - start
    assert early.fired[0] < late.fired[0]
    assert 0.15 <= late.fired[0] - start
    assert not wheel.slots and wheel.timer is None


async def test_a_cancelled_deadline_never_fires() -> None:
    loop = asyncio.get_running_loop()
    wheel = KeepaliveWheel(0.2)
    kept, cancelled = Socket(loop), Socket(loop)
    wheel.cancel(cancelled, wheel.at(cancelled, 0.05))
    wheel.at(kept, 0.1)
    await _until(lambda: bool(kept.fired))
    assert not cancelled.fired


async def test_one_failing_socket_does_not_stop_the_others() -> None:
    loop = asyncio.get_running_loop()
    wheel = KeepaliveWheel(0.2)

    class Broken:
        def keepalive_due(self) -> None:
            raise RuntimeError("broken")

    others = [Socket(loop) for _ in range(3)]
    wheel.at(Broken(), 0.05)
    for other in others:
        wheel.at(other, 0.05)
    await _until(lambda: all(other.fired for other in others))


async def test_rescheduling_from_a_deadline_keeps_the_wheel_running() -> None:
    loop = asyncio.get_running_loop()
    wheel = KeepaliveWheel(0.2)

    class Pinger(Socket):
        def keepalive_due(self) -> None:
            super().keepalive_due()
            if len(self.fired) < 3:
                wheel.at(self, 0.05)

    pinger = Pinger(loop)
    wheel.at(pinger, 0.05)
    await _until(lambda: len(pinger.fired) == 3)
    await asyncio.sleep(100 * MS)
    assert len(pinger.fired) == 3
