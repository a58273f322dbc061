"""The error tree. Each domain error carries one protocol error code.

::

    ProductDemoError
    ├── ConfigError                  bad configuration (startup only)
    └── DomainError (code)           mapped once per transport: HTTP status / WebSocket error frame
        ├── BadRequest               bad_request
        ├── Unauthorized             unauthorized
        ├── Forbidden                forbidden
        ├── NotFound                 not_found
        ├── Conflict                 conflict
        ├── TooLarge                 too_large
        ├── UnsupportedMedia         unsupported_media
        └── RateLimited              rate_limited (retry_after seconds)
"""

from __future__ import annotations


class ProductDemoError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ProductDemoError):
    """The configuration is invalid; the message names the setting."""


class DomainError(ProductDemoError):
    """An error with a protocol error code, safe to show to the client."""

    code = "internal"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class BadRequest(DomainError):
    code = "bad_request"
    status = 400


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class TooLarge(DomainError):
    code = "too_large"
    status = 413


class UnsupportedMedia(DomainError):
    code = "unsupported_media"
    status = 415


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
