"""Serve the built web client: files from ``client/dist``, and ``index.html`` for SPA routes."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

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
    async def spa(path: str) -> Response:
        if path.startswith(("api/", "ws", "metrics")):
            raise HTTPException(status_code=404)
        if path:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return FileResponse(candidate)
        if not index.exists():
            return HTMLResponse(MISSING_BUILD.format(index=index), status_code=503)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return router
