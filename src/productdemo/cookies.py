"""The one reader of the session cookie, for ``/ws`` and REST alike.

Browsers may send two cookies of one name (set for different paths or by a sibling
subdomain), and parsers disagree on which one counts: Starlette takes the last, a naive
loop the first. A request whose ``connect.sid`` values differ is refused as ambiguous
rather than letting the two doors pick different sessions.
"""

from __future__ import annotations

from collections.abc import Iterable

from productdemo.errors import BadRequest

COOKIE_NAME = "connect.sid"


class AmbiguousCookie(BadRequest):
    """Several different values for the session cookie in one request."""

    def __init__(self) -> None:
        super().__init__(
            f"the request carries several different {COOKIE_NAME} cookies; clear the site's cookies"
        )


def cookie_values(header: str, name: str) -> list[str]:
    """Every value of cookie ``name`` in one ``Cookie`` header, in order."""
    values = []
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            values.append(value)
    return values


def session_token(headers: Iterable[tuple[bytes, bytes]], name: str = COOKIE_NAME) -> str | None:
    """The session cookie's value in raw ASGI headers; None when absent or empty.

    Raises:
        AmbiguousCookie: the cookie appears with different values.
    """
    found: set[str] = set()
    for key, value in headers:
        if key == b"cookie":
            found.update(cookie_values(value.decode("latin-1"), name))
    found.discard("")
    if len(found) > 1:
        raise AmbiguousCookie()
    return found.pop() if found else None
