"""OriginPolicy: same origin by Host, the scheme, an explicit list, and the Referer fallback."""

from __future__ import annotations

import pytest

from productdemo.origins import OriginPolicy

SAME_ORIGIN = OriginPolicy(())
LISTED = OriginPolicy(("https://app.example.com", "http://localhost:5173"))


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "http"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws"),
        ("https://app.example.com", "app.example.com", "https"),
        ("https://app.example.com", "app.example.com", "wss"),
        ("HTTPS://App.Example.COM", "app.example.com", "wss"),
        ("http://127.0.0.1:8000/", "127.0.0.1:8000", "http"),
    ],
)
def test_same_origin_is_allowed(origin: str, host: str, scheme: str) -> None:
    """Without a list an Origin matching the Host header and the request's scheme is allowed."""
    assert SAME_ORIGIN.allows(origin, host, scheme) is True


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://127.0.0.1:8001", "127.0.0.1:8000", "http"),
        ("http://evil.example", "127.0.0.1:8000", "http"),
        ("http://app.example.com.evil.example", "app.example.com", "http"),
        ("http://evil.example@app.example.com", "app.example.com", "http"),
        ("http://app.example.com", None, "http"),
        ("http://app.example.com", "", "http"),
    ],
)
def test_other_origins_are_refused(origin: str, host: str | None, scheme: str) -> None:
    """Another host or port, a look-alike host, or no Host header at all is refused."""
    assert SAME_ORIGIN.allows(origin, host, scheme) is False


@pytest.mark.parametrize(
    ("origin", "scheme"),
    [
        ("https://app.example.com", "http"),
        ("https://app.example.com", "ws"),
        ("http://app.example.com", "https"),
    ],
)
def test_scheme_must_match(origin: str, scheme: str) -> None:
    """An https page may not act on the server reached over http, nor an http page over https."""
    assert SAME_ORIGIN.allows(origin, "app.example.com", scheme) is False


@pytest.mark.parametrize("origin", [None, "", "null", "NULL"])
def test_missing_or_null_origin_is_refused(origin: str | None) -> None:
    """No Origin, an empty one, or the opaque ``null`` origin is refused by either policy."""
    assert SAME_ORIGIN.allows(origin, "app.example.com", "https") is False
    assert LISTED.allows(origin, "app.example.com", "https") is False


def test_listed_origins_are_allowed_whatever_the_host() -> None:
    """With a list, a listed origin is allowed even when it differs from the Host header."""
    assert LISTED.allows("https://app.example.com", "api.internal:8000", "http") is True
    assert LISTED.allows("http://localhost:5173", "127.0.0.1:8000", "ws") is True
    assert LISTED.allows("HTTPS://APP.EXAMPLE.COM/", "127.0.0.1:8000", "http") is True


def test_with_a_list_only_listed_origins_are_allowed() -> None:
    """With a list, the Host's own origin and near misses of listed ones are refused."""
    assert LISTED.allows("http://127.0.0.1:8000", "127.0.0.1:8000", "http") is False
    assert LISTED.allows("http://app.example.com", "app.example.com", "http") is False
    assert LISTED.allows("https://app.example.com:444", "app.example.com", "https") is False


def test_referer_of_the_same_origin_is_allowed() -> None:
    """A Referer whose scheme and host match is accepted in place of a missing Origin."""
    referer = "http://127.0.0.1:8000/documents/7?tab=chat#top"
    assert SAME_ORIGIN.allows_referer(referer, "127.0.0.1:8000", "http") is True
    assert LISTED.allows_referer("https://app.example.com/settings", "api.internal", "http") is True


@pytest.mark.parametrize(
    "referer", [None, "", "http://evil.example/page", "https://127.0.0.1:8000/", "garbage"]
)
def test_foreign_or_missing_referer_is_refused(referer: str | None) -> None:
    """A Referer from another origin or scheme, a malformed one, or none at all is refused."""
    assert SAME_ORIGIN.allows_referer(referer, "127.0.0.1:8000", "http") is False
