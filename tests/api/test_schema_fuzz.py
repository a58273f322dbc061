"""schemathesis against the app's own OpenAPI schema, signed in: no 5xx, nothing the schema denies.

The server is the real one (``productdemo serve`` in a process of its own: schemathesis
calls are synchronous); the session is an administrator's, so every operation is
reached. Logout is left out: it would end the session the rest of the run needs.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from productdemo.app import create_app
from tests.scaleout.cluster import Cluster
from tests.support import PASSWORD, make_config


def _import_every_module(package: ModuleType) -> None:
    """Import all of ``package`` now, near the bottom of the stack.

    schemathesis imports many of its modules lazily, deep inside hypothesis' stack. As a pytest
    plugin its modules are compiled there by pytest's assertion rewriter, and the AST
    recursion-depth check of this machine's CPython (3.11.7) then fails now and again with
    "SystemError: AST constructor recursion depth mismatch". Compiled here, they are in
    ``sys.modules`` before any test runs.
    """
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        with contextlib.suppress(ImportError):  # optional integrations (e.g. allure)
            importlib.import_module(module.name)


_import_every_module(schemathesis)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
async def live_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    cluster = Cluster(tmp_path_factory.mktemp("schemathesis"))
    await cluster.create_user("fuzzadmin", role="admin")
    try:
        [server] = await cluster.start()
        yield server.url
    finally:
        await cluster.close()
    for instance in cluster.instances:
        printed = instance.output() + instance.log.read_text()
        assert "Traceback" not in printed, printed[-3000:]


@pytest.fixture(scope="module")
def session(live_url: str) -> requests.Session:
    http = requests.Session()
    http.headers["Origin"] = live_url
    response = http.post(f"{live_url}/api/auth/login", json={"username": "fuzzadmin", "password": PASSWORD})
    response.raise_for_status()
    return http


def _app_schema() -> dict[str, Any]:
    """The schema the server serves, built from the same code without starting anything."""
    with tempfile.TemporaryDirectory() as tmp:
        schema: dict[str, Any] = create_app(make_config(Path(tmp))).api.openapi()
    return schema


schema = schemathesis.openapi.from_dict(_app_schema()).exclude(path="/api/auth/logout")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_as_its_schema_says(
    case: schemathesis.Case[Any], session: requests.Session, live_url: str
) -> None:
    """Every generated request gets a documented status, in the documented shape, never a 5xx."""
    case.call_and_validate(base_url=live_url, session=session, checks=CHECKS)
