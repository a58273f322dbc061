"""Experiment, not a fix: ``productdemo serve`` with document extraction in worker processes.

Replaces ``extract`` as the document processor calls it (in a thread, through
``asyncio.to_thread``) with a call into a ``ProcessPoolExecutor`` of 2 processes (the
default ``[documents] concurrency``), so pypdf's pure-Python work no longer competes with
the event loop for the GIL; the processes inherit the server's CPU affinity, so the CPU
budget is the same. Page-by-page progress is lost here (one report when a file is done).
Used by ``responsiveness.py --launcher bench/procpool_serve.py`` to test the proposed
change before anyone makes it in ``services/documents/processor.py``.

Usage: .venv/bin/python bench/procpool_serve.py serve
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from productdemo.services.documents import processor

# The package re-exports the function ``extract``, which hides the module of that name.
_extract = importlib.import_module("productdemo.services.documents.extract")

_pool: ProcessPoolExecutor | None = None


def extract_in_process(data: bytes, kind: Any, encoding: str | None = None, on_progress: Any = None) -> Any:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver"))
    parts = _pool.submit(_extract.extract, data, kind, encoding).result()
    if on_progress is not None:
        on_progress(1, 1)
    return parts


processor.extract = extract_in_process  # type: ignore[assignment]

if __name__ == "__main__":
    from productdemo.cli import main

    sys.exit(main())
