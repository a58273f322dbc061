"""Login throttling: too many failures for one username or one client address locks it out."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from productdemo.errors import RateLimited


class LoginThrottle:
    """At most ``max_failures`` failures per key within ``window`` seconds (per instance)."""

    MAX_KEYS = 100_000

    def __init__(self, max_failures: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def check(self, *keys: str) -> None:
        """Raises RateLimited (with the seconds to wait) if any key is locked out."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.max_failures:
                wait = max(wait, times[0] + self.window - now)
        if wait > 0:
            raise RateLimited(
                "too many failed sign-in attempts; try again later", retry_after=math.ceil(wait)
            )

    def failed(self, *keys: str) -> None:
        now = self._clock()
        if len(self._failures) >= self.MAX_KEYS:
            # Bounded memory under a spray of usernames: drop the oldest keys first.
            for key in list(self._failures)[: self.MAX_KEYS // 10]:
                del self._failures[key]
        for key in keys:
            self._failures.setdefault(key, deque(maxlen=self.max_failures)).append(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
