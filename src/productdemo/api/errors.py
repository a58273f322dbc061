"""Every HTTP error in one shape, ``{"detail", "code"}``, and an OpenAPI schema that says so.

FastAPI documents a ``422 HTTPValidationError`` the app never sends (validation errors
answer 400, see ``app.py``) and none of the errors it does send. Here every API
operation gets the statuses the app can answer with, in the one shape, the 422 goes,
and Starlette's own errors (404, 405, a body cut at its limit) take the shape too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from productdemo.api.body_limit import BodyTooLarge

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media",
    429: "rate_limited",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    """What every 4xx answer carries."""

    detail: str
    code: str


_WHY = {
    400: "Malformed request: invalid JSON, wrong field types or values, an ambiguous session cookie",
    401: "No valid session (sign in first)",
    403: "Cross-site request, or not allowed for this role",
    404: "No such resource (or not yours)",
    405: "This path does not take this method",
    413: "Request body over its limit",
    415: "Unsupported document type",
    409: "Conflicts with the current state",
    429: "Too many attempts; retry after the Retry-After seconds",
    503: "The event broker (Redis) is unreachable; nothing was done",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's own error statuses (beyond the common ones ``install`` adds), for ``responses=``."""
    return {status: {"model": ErrorBody, "description": _WHY[status]} for status in statuses}


async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
    code = CODES.get(exc.status_code, "error")
    headers = dict(exc.headers or {})
    if isinstance(exc, BodyTooLarge):
        headers["Connection"] = "close"
    return JSONResponse(
        {"detail": str(exc.detail), "code": code}, status_code=exc.status_code, headers=headers
    )


def install(api: FastAPI, session_dependency: Callable[..., Any]) -> None:
    """Register the handler for Starlette's errors and the truthful OpenAPI schema.

    Args:
        api: the app.
        session_dependency: the dependency that answers 401; operations using it document 401.
    """
    api.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = get_openapi(title=api.title, version=api.version, routes=api.routes)
            for context in iter_route_contexts(api.routes):
                route = context.original_route
                if not isinstance(route, APIRoute) or not route.include_in_schema:
                    continue
                needs_session = _uses(route.dependant, session_dependency)
                path = context.path_format or route.path_format
                for method in context.methods or ():
                    operation = schema["paths"][path][method.lower()]
                    responses = operation.setdefault("responses", {})
                    responses.pop("422", None)
                    for status in _statuses(path, method, needs_session):
                        responses.setdefault(str(status), _entry(status))
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            components["ErrorBody"] = ErrorBody.model_json_schema()
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


def _statuses(path: str, method: str, needs_session: bool) -> list[int]:
    statuses = [400, 405]
    if method in UNSAFE:
        statuses += [403, 413, 503]  # a cross-site request; a body over its limit; Redis down
    if needs_session:
        statuses += [401, 403]
    if "{" in path:
        statuses.append(404)
    return sorted(set(statuses))


def _uses(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _uses(d, call) for d in dependant.dependencies)


def _entry(status: int) -> dict[str, Any]:
    return {
        "description": _WHY[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
