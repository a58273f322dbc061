"""Token bucket per connection, plus an abuse counter that decides when to disconnect."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; one token per client message.

    ``rejected`` counts refusals in the current 10-second window, so a client that keeps
    flooding after being told can be disconnected (``abusive``) while one burst is not.
    """

    __slots__ = (
        "_clock",
        "_last",
        "_tokens",
        "_window_start",
        "abuse_threshold",
        "burst",
        "rate",
        "rejected",
    )

    WINDOW = 10.0

    def __init__(
        self, rate: float, burst: int, abuse_threshold: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.abuse_threshold = abuse_threshold
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._window_start = self._last
        self.rejected = 0

    def take(self) -> bool:
        """Spend one token; False when the bucket is empty."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        if now - self._window_start > self.WINDOW:
            self._window_start = now
            self.rejected = 0
        self.rejected += 1
        return False

    @property
    def abusive(self) -> bool:
        return self.rejected >= self.abuse_threshold
