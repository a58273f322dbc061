"""Signals: short messages between instances that no socket sees ("stop answer m_1").

A service sends a signal by name with a string of data, and registers one handler per name
(before the broker starts); every instance listening on that name receives every signal,
the sender's own included. Delivery is at most once, to the instances listening at that
moment: a signal is a shortcut, never the only record. Whatever it announces is written to
the database first, and read there as the fallback (channels' ``group_send`` to a process
group, or broadcaster's ``publish``, are the same idea without history).

The in-process broker's signals are below; ``signals_redis.py`` carries them over Redis
pub/sub between instances. Each broker offers its own as ``broker.signals``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger(__name__)

#: handler(data): called on each listening instance for each signal sent on its name.
Handler = Callable[[str], object]


class Signals(Protocol):
    async def signal(self, name: str, data: str) -> None:
        """Send ``data`` to the ``name`` handler of every instance.

        Raises:
            BrokerUnavailable: the signal could not be sent (Redis unreachable).
        """
        ...

    def on_signal(self, name: str, handler: Handler) -> None:
        """Call ``handler`` for every signal sent on ``name``; register before start-up."""
        ...


def dispatch(handlers: dict[str, Handler], name: str, data: str) -> None:
    """Call the handler of ``name``; a failing handler is logged, never raised to the sender."""
    handler = handlers.get(name)
    if handler is None:
        return
    try:
        handler(data)
    except Exception:
        logger.exception("signal %s: handler failed", name)


class MemorySignals:
    """One process: a signal is a direct call of the handler."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def on_signal(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    async def signal(self, name: str, data: str) -> None:
        dispatch(self._handlers, name, data)
