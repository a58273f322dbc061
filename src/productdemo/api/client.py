"""Serve the built web client: files from ``client/dist``, and ``index.html`` for SPA routes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path

logger = logging.getLogger(__name__)

MISSING_BUILD = """<!doctype html><meta charset="utf-8"><title>ProductDemo: client not built</title>
<h1>The web client has not been built</h1>
<p>The server looked for <code>{index}</code>. Run <code>make run</code> (it builds the client with
npm), or <code>cd client &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>"""


def client_router(client_dir: Path) -> APIRouter:
    """Routes for the SPA; ``/api`` and ``/ws`` are never shadowed (they are matched first)."""
    root = client_dir.resolve()
    index = root / "index.html"
    if not index.exists():
        logger.warning("web client not built: %s is missing (run `make run`)", index)
    router = APIRouter(include_in_schema=False)

    @router.get("/{path:path}")
    async def spa(path: str, request: Request) -> Response:
        if path.startswith(("api/", "ws", "metrics")):
            # Reached for a GET on a path another route serves with other methods only.
            allowed = _methods_of(request, spa)
            if allowed:
                raise HTTPException(status_code=405, headers={"Allow": ", ".join(sorted(allowed))})
            raise HTTPException(status_code=404)
        if path:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return FileResponse(candidate)
        if not index.exists():
            return HTMLResponse(MISSING_BUILD.format(index=index), status_code=503)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return router


def _methods_of(request: Request, spa: Callable[..., Any]) -> set[str]:
    """The methods the app's other routes accept at this request's path."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        if context.endpoint is spa or context.path_format is None:
            continue
        if compile_path(context.path_format)[0].match(request.url.path):
            methods |= context.methods or set()
    return methods
