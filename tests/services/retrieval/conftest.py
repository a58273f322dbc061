"""Every vector store under test: the suite's own database, and PostgreSQL with pgvector."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import new_database


@pytest.fixture(scope="module", params=["default", "pgvector"])
def vector_db(request: pytest.FixtureRequest) -> str:
    """``""`` for the suite's database (SQLite, or PostgreSQL 15 without pgvector with
    PRODUCTDEMO_TEST_POSTGRES_URL: the portable store), else a pgvector server's URL."""
    if request.param == "default":
        return ""
    url: str = request.getfixturevalue("pgvector_url")
    return url


def database(vector_db: str) -> dict[str, dict[str, Any]]:
    """Config sections putting a server on a fresh database of ``vector_db`` (see above)."""
    return {"database": {"url": new_database(vector_db)}} if vector_db else {}
