"""Origin checks shared by the WebSocket upgrade and state-changing REST requests.

A browser always sends ``Origin`` on a WebSocket upgrade and on cross-site POSTs; checking
it against the allowed list stops cross-site WebSocket hijacking and CSRF alike. With no
list configured the only allowed origin is the server's own (the ``Host`` header).
"""

from __future__ import annotations

from urllib.parse import urlsplit


class OriginPolicy:
    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.allowed = frozenset(o.lower() for o in allowed)

    def allows(self, origin: str | None, host: str | None, scheme: str) -> bool:
        """True if ``origin`` may act on this server (reached as ``scheme://host``)."""
        if not origin or origin == "null":
            return False
        origin = origin.lower().rstrip("/")
        if self.allowed:
            return origin in self.allowed
        if not host:
            return False
        parts = urlsplit(origin)
        secure = scheme in ("https", "wss")
        return parts.netloc == host.lower() and parts.scheme == ("https" if secure else "http")

    def allows_referer(self, referer: str | None, host: str | None, scheme: str) -> bool:
        """The Referer fallback, for requests that carry no Origin."""
        if not referer:
            return False
        parts = urlsplit(referer)
        return self.allows(f"{parts.scheme}://{parts.netloc}", host, scheme)
