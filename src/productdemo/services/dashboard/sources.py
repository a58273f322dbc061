"""The figures the dashboard shows from the start: sockets, messages, broker, documents."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.realtime.metrics import RealtimeMetrics
from productdemo.services.dashboard.service import Source
from productdemo.storage.models import Document, McpInstall


def connections_source(
    metrics: RealtimeMetrics, connections: Callable[[], int], users: Callable[[], int]
) -> Source:
    """Open sockets and users on this instance; messages in and out, totals and per second."""
    last: dict[str, float] = {}

    async def read() -> dict[str, float]:
        now = time.monotonic()
        totals = {
            "messagesIn": float(metrics.messages_in),
            "eventsOut": float(metrics.events_published),
            "framesOut": float(metrics.frames_out),
        }
        elapsed = now - last.get("at", now)
        rates = {
            f"{k}PerSecond": round((v - last.get(k, v)) / elapsed, 2) if elapsed > 0 else 0.0
            for k, v in totals.items()
        }
        last.update(totals, at=now)
        return {"connections": connections(), "users": users(), **totals, **rates}

    return read


def broker_source(up: Callable[[], bool], lag: Callable[[], float]) -> Source:
    async def read() -> dict[str, float]:
        return {"up": 1.0 if up() else 0.0, "lagMs": round(lag() * 1000, 1)}

    return read


def documents_source(db: async_sessionmaker[AsyncSession]) -> Source:
    """Documents queued and processing now, and failed in the last hour (shared database)."""

    async def read() -> dict[str, float]:
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        async with db() as session:
            rows = (
                await session.execute(
                    select(Document.status, func.count())
                    .where(Document.status.in_(("queued", "processing")))
                    .group_by(Document.status)
                )
            ).all()
            failed = await session.scalar(
                select(func.count()).where(Document.status == "failed", Document.updated_at >= hour_ago)
            )
        counts = {status: float(n) for status, n in rows}
        return {
            "queued": counts.get("queued", 0.0),
            "processing": counts.get("processing", 0.0),
            "failedLastHour": float(failed or 0),
        }

    return read


def chat_source(streaming: Callable[[], int]) -> Source:
    """Answers this instance is writing now."""

    async def read() -> dict[str, float]:
        return {"streaming": float(streaming())}

    return read


def mcp_source(db: async_sessionmaker[AsyncSession]) -> Source:
    """MCP installs waiting and running, on any instance (shared database)."""

    async def read() -> dict[str, float]:
        async with db() as session:
            rows = (
                await session.execute(
                    select(McpInstall.state, func.count())
                    .where(McpInstall.state.in_(("queued", "connecting", "running", "verifying")))
                    .group_by(McpInstall.state)
                )
            ).all()
        counts = {state: float(n) for state, n in rows}
        return {"queued": counts.pop("queued", 0.0), "running": sum(counts.values())}

    return read
