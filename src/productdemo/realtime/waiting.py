"""Small stand-ins for ``asyncio.Queue`` and ``asyncio.Event``, one of each per socket.

uvicorn's WebSocket protocol gives every socket an ``asyncio.Queue`` for the app's
``receive`` (four deques and an ``Event``) and an ``asyncio.Event`` for write readiness
(one more deque): about 4 KiB of an idle socket's 21 (``docs/performance.md``). A socket's
queue has one reader (the endpoint's receive loop) and holds a message or two, since
reading pauses after each one; nothing here is allocated until it is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class Inbox:
    """A one-reader FIFO with the ``asyncio.Queue`` methods uvicorn's protocol uses."""

    __slots__ = ("_drained", "_items", "_waiter")

    def __init__(self, drained: Callable[[], None] | None = None) -> None:
        self._items: list[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None
        # Called when get() takes the last message (uvicorn's receive resumes reading then).
        self._drained = drained

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = [item]
        else:
            self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.pop(0)
        if not self._items and self._drained is not None:
            self._drained()
        return item

    def empty(self) -> bool:
        return not self._items


class Flag:
    """An ``asyncio.Event`` whose waiters list exists only while someone waits."""

    __slots__ = ("_set", "_waiters")

    def __init__(self, value: bool = False) -> None:
        self._set = value
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        if self._set:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
