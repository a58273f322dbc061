"""realtime/waiting.py: the per-socket queue and flag behave as the asyncio ones uvicorn expects."""

from __future__ import annotations

import asyncio

from productdemo.realtime.waiting import Flag, Inbox
from tests.support import MS


async def test_inbox_is_fifo_and_wakes_its_reader() -> None:
    inbox = Inbox()
    assert inbox.empty()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    assert not reader.done()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert await asyncio.wait_for(reader, 1000 * MS) == 1
    assert not inbox.empty()
    assert await inbox.get() == 2
    assert inbox.empty()


async def test_inbox_reader_can_be_cancelled_and_read_again() -> None:
    inbox = Inbox()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    inbox.put_nowait("after")
    assert await asyncio.wait_for(inbox.get(), 1000 * MS) == "after"


async def test_flag_wakes_every_waiter_and_can_be_cleared() -> None:
    flag = Flag(True)
    await asyncio.wait_for(flag.wait(), 1000 * MS)  # set: returns at once
    flag.clear()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    await asyncio.wait_for(asyncio.gather(*waiters), 1000 * MS)
    assert flag.is_set()


async def test_a_cancelled_flag_waiter_is_forgotten() -> None:
    flag = Flag()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert flag._waiters == []
    flag.set()


async def test_inbox_says_when_its_last_message_is_taken() -> None:
    drained: list[int] = []
    inbox = Inbox(lambda: drained.append(1))
    inbox.put_nowait("a")
    inbox.put_nowait("b")
    await inbox.get()
    assert drained == []
    await inbox.get()
    assert drained == [1]
