"""Publishes this instance's figures on ``admin:dashboard`` every ``interval`` seconds.

Figures come from *sources*: a feature registers a callable returning its numbers
(``dashboard.register("documents", figures, shared=True)``), so features added later
(chat answers streaming, MCP installs running) show up without changing this module.
Per-instance sources are summed over instances by the page; shared ones (read from the
common database) are the same on every instance and shown once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from productdemo.errors import DomainError
from productdemo.realtime.publisher import Publisher
from productdemo.services.dashboard.errors import RecentErrors
from productdemo.services.dashboard.events import DashboardUpdate

logger = logging.getLogger(__name__)

TOPIC = "admin:dashboard"
#: A source of figures: name -> number, e.g. {"queued": 3, "processing": 1}.
Source = Callable[[], Awaitable[dict[str, float]]]


class Dashboard:
    def __init__(self, events: Publisher, instance: str, interval: float, errors: RecentErrors) -> None:
        self.events = events
        self.instance = instance
        self.interval = interval
        self.errors = errors
        self._sources: dict[str, tuple[Source, bool]] = {}
        self._task: asyncio.Task[None] | None = None

    def register(self, name: str, source: Source, shared: bool = False) -> None:
        """Add a source of figures shown under ``name``.

        Raises:
            ValueError: the name is taken.
        """
        if name in self._sources:
            raise ValueError(f"dashboard source {name!r} is already registered")
        self._sources[name] = (source, shared)

    async def update(self) -> DashboardUpdate:
        """Read every source now (a failing one is reported as an error, not raised)."""
        figures: dict[str, dict[str, float]] = {}
        shared: dict[str, dict[str, float]] = {}
        for name, (source, is_shared) in self._sources.items():
            try:
                values = await source()
            except Exception:
                logger.exception("dashboard source %s failed", name)
                continue
            (shared if is_shared else figures)[name] = values
        return DashboardUpdate(
            instance=self.instance,
            at=time.time_ns() // 1_000_000,
            interval=self.interval,
            figures=figures,
            shared=shared,
            errors=list(self.errors.records),
        )

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dashboard")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.events.to_topic(TOPIC, await self.update())
            except DomainError as exc:
                logger.debug("dashboard update not published: %s", exc)
