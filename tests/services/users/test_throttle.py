"""LoginThrottle: failures per username and per address, Retry-After, the window, success."""

from __future__ import annotations

import pytest

from productdemo.errors import RateLimited
from productdemo.services.users.throttle import LoginThrottle
from tests.services.users.conftest import Clock

MESSAGE = "too many failed sign-in attempts; try again later"


@pytest.fixture
def throttle(clock: Clock) -> LoginThrottle:
    return LoginThrottle(max_failures=3, window=60, clock=clock)


def _retry_after(throttle: LoginThrottle, *keys: str) -> int:
    with pytest.raises(RateLimited) as info:
        throttle.check(*keys)
    assert info.value.message == MESSAGE
    assert info.value.code == "rate_limited"
    return info.value.retry_after


def test_failures_below_the_limit_are_allowed(throttle: LoginThrottle) -> None:
    """Two failures out of three allowed leave the username and address unlocked."""
    for _ in range(2):
        throttle.check("user:ann", "ip:1")
        throttle.failed("user:ann", "ip:1")
    throttle.check("user:ann", "ip:1")


def test_username_is_locked_after_max_failures_from_any_address(throttle: LoginThrottle) -> None:
    """Three failures for one username from three addresses lock that username for the window."""
    for ip in ("ip:1", "ip:2", "ip:3"):
        throttle.failed("user:ann", ip)
    assert _retry_after(throttle, "user:ann", "ip:4") == 60
    throttle.check("user:bob", "ip:4")


def test_address_is_locked_after_max_failures_for_any_username(throttle: LoginThrottle) -> None:
    """Three failures from one address, each for another username, lock that address."""
    for name in ("user:a", "user:b", "user:c"):
        throttle.failed(name, "ip:1")
    assert _retry_after(throttle, "user:d", "ip:1") == 60
    throttle.check("user:d", "ip:2")


def test_retry_after_counts_down_and_rounds_up(throttle: LoginThrottle, clock: Clock) -> None:
    """Retry-After is the whole seconds until the oldest counted failure leaves the window."""
    throttle.failed("user:ann", "ip:1")
    clock.advance(10)
    throttle.failed("user:ann", "ip:1")
    throttle.failed("user:ann", "ip:1")
    clock.advance(20.5)
    assert _retry_after(throttle, "user:ann") == 30


def test_lock_ends_when_the_window_has_passed(throttle: LoginThrottle, clock: Clock) -> None:
    """Failures older than the window no longer count."""
    for _ in range(3):
        throttle.failed("user:ann", "ip:1")
    clock.advance(59)
    assert _retry_after(throttle, "user:ann", "ip:1") == 1
    clock.advance(1)
    throttle.check("user:ann", "ip:1")
    throttle.failed("user:ann", "ip:1")
    throttle.check("user:ann", "ip:1")


def test_success_clears_the_username_but_not_the_address(throttle: LoginThrottle) -> None:
    """A successful sign-in forgets the username's failures; the address keeps its count."""
    throttle.failed("user:ann", "ip:1")
    throttle.failed("user:ann", "ip:1")
    throttle.succeeded("user:ann")
    throttle.failed("user:ann", "ip:1")
    throttle.failed("user:ann", "ip:2")
    throttle.check("user:ann")
    assert _retry_after(throttle, "ip:1") == 60
