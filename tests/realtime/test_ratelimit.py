"""realtime/ratelimit.py: the token bucket and its abuse counter."""

from __future__ import annotations

from productdemo.realtime.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refusal() -> None:
    """A full bucket allows exactly ``burst`` messages at once, then refuses."""
    clock = Clock()
    bucket = TokenBucket(rate=20, burst=40, abuse_threshold=100, clock=clock)
    assert [bucket.take() for _ in range(41)] == [True] * 40 + [False]


def test_refills_at_the_rate() -> None:
    """After 0.5 s at 20/s, ten more messages are allowed."""
    clock = Clock()
    bucket = TokenBucket(rate=20, burst=40, abuse_threshold=100, clock=clock)
    for _ in range(40):
        bucket.take()
    clock.now += 0.5
    assert [bucket.take() for _ in range(11)] == [True] * 10 + [False]


def test_sustained_flooding_is_abuse() -> None:
    """Refusals reaching the threshold within the window mark the client abusive."""
    clock = Clock()
    bucket = TokenBucket(rate=1, burst=1, abuse_threshold=3, clock=clock)
    bucket.take()
    bucket.take()
    bucket.take()
    assert not bucket.abusive
    bucket.take()
    assert bucket.abusive


def test_refusals_are_forgiven_after_the_window() -> None:
    """Refusals older than the window do not count towards abuse."""
    clock = Clock()
    bucket = TokenBucket(rate=0.01, burst=1, abuse_threshold=3, clock=clock)
    bucket.take()
    bucket.take()
    bucket.take()
    clock.now += TokenBucket.WINDOW + 1
    bucket.take()
    assert bucket.rejected == 1
    assert not bucket.abusive
