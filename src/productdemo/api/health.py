"""Liveness, readiness and metrics, for the proxy and the monitoring system."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text

from productdemo.api.deps import ServicesDep
from productdemo.realtime.metrics import RealtimeCollector

router = APIRouter(tags=["health"])


@router.get("/api/health")
async def health() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get("/api/ready", responses={503: {"description": "The database or the broker is unreachable"}})
async def ready(services: ServicesDep) -> JSONResponse:
    """Readiness: the database and the broker are reachable, extraction works (503 otherwise)."""
    checks: dict[str, str] = {}
    try:
        async with services.db() as db:
            await db.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
    reachable = services.broker.healthy and await services.broker.ping()
    checks["broker"] = "ok" if reachable else "unreachable"
    extraction = services.documents.processor.extraction
    checks["extraction"] = "ok" if extraction.healthy else f"broken ({extraction.broken})"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


def metrics_router(collector: RealtimeCollector) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    metrics = APIRouter(tags=["health"])

    @metrics.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        """Prometheus exposition of the realtime counters."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
