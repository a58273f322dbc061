"""Passwords: the strength rule and argon2id hashing and verification."""

from __future__ import annotations

import pytest

from productdemo.services.users.passwords import Passwords, check_strength


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    """Cheap argon2id parameters; the cost does not change what is checked."""
    return Passwords(time_cost=1, memory_kib=1024)


def test_short_password_is_refused() -> None:
    """A password of 7 characters is refused with the minimum in the message."""
    with pytest.raises(ValueError, match=r"^a password needs at least 8 characters$"):
        check_strength("7 chars")


def test_overlong_password_is_refused() -> None:
    """A password of 1025 characters is refused with the maximum in the message."""
    with pytest.raises(ValueError, match=r"^a password has at most 1024 characters$"):
        check_strength("x" * 1025)


def test_passwords_at_the_limits_are_accepted() -> None:
    """Passwords of exactly 8 and exactly 1024 characters pass."""
    check_strength("8 chars!")
    check_strength("x" * 1024)


async def test_hash_is_argon2id_with_the_configured_cost(passwords: Passwords) -> None:
    """The stored hash is argon2id with the time and memory cost given, and holds no plain text."""
    stored = await passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=")
    assert "correct horse battery" not in stored


async def test_hash_verifies_only_the_same_password(passwords: Passwords) -> None:
    """An argon2id hash verifies its own password and no other."""
    stored = await passwords.hash("correct horse battery")
    assert await passwords.verify(stored, "correct horse battery") is True
    assert await passwords.verify(stored, "correct horse batterY") is False


async def test_hashes_are_salted(passwords: Passwords) -> None:
    """Hashing one password twice gives two different hashes that both verify."""
    first, second = await passwords.hash("same password"), await passwords.hash("same password")
    assert first != second
    assert await passwords.verify(first, "same password") is True
    assert await passwords.verify(second, "same password") is True


async def test_hash_made_with_another_cost_still_verifies(passwords: Passwords) -> None:
    """A hash stored under older cost parameters verifies after the cost is changed."""
    stored = await Passwords(time_cost=2, memory_kib=2048).hash("old password")
    assert await passwords.verify(stored, "old password") is True


async def test_no_hash_or_a_broken_hash_never_verifies(passwords: Passwords) -> None:
    """An unknown user (no hash) and a corrupt stored hash both fail instead of raising."""
    assert await passwords.verify(None, "not-a-real-password") is False
    assert await passwords.verify("not an argon2 hash", "anything") is False
    assert await passwords.verify("$argon2id$v=19$m=1024,t=1,p=1$broken", "anything") is False
