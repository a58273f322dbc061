"""create_app(config): the one place where the parts are wired together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from productdemo.api import (
    admin,
    auth,
    chat as chat_api,
    documents as documents_api,
    errors as api_errors,
    health,
    mcp as mcp_api,
    notifications as notifications_api,
)
from productdemo.api.body_limit import MULTIPART_OVERHEAD, BodyLimit
from productdemo.api.client import client_router
from productdemo.api.csrf import CrossSiteGuard
from productdemo.api.deps import Services, get_current_session
from productdemo.config import Config
from productdemo.errors import DomainError, RateLimited
from productdemo.origins import OriginPolicy
from productdemo.realtime.broker import Broker, MemoryBroker
from productdemo.realtime.broker_redis import RedisBroker
from productdemo.realtime.connection import Principal
from productdemo.realtime.endpoint import WebSocketEndpoint
from productdemo.realtime.history import MemoryHistory
from productdemo.realtime.hub import Hub
from productdemo.realtime.metrics import RealtimeCollector
from productdemo.realtime.publisher import topic_stream
from productdemo.realtime.quota import SocketQuota
from productdemo.realtime.router import Router, register_core
from productdemo.services.chat import access as chat_access
from productdemo.services.chat.answers import Answers
from productdemo.services.chat.generators import create_generator
from productdemo.services.chat.leases import Leases
from productdemo.services.chat.service import ChatService
from productdemo.services.dashboard import sources as dashboard_sources
from productdemo.services.dashboard.errors import RecentErrors
from productdemo.services.dashboard.service import Dashboard
from productdemo.services.documents import access as documents_access
from productdemo.services.documents.files import FileStore
from productdemo.services.documents.processor import DocumentProcessor
from productdemo.services.documents.search import DocumentSearch
from productdemo.services.documents.service import MAX_FILES, DocumentService
from productdemo.services.documents.workers import ExtractionPool
from productdemo.services.mcp import access as mcp_access
from productdemo.services.mcp.audit import AuditLog
from productdemo.services.mcp.hosts import HostService
from productdemo.services.mcp.installs import InstallService
from productdemo.services.mcp.vault import Vault
from productdemo.services.mcp.worker import InstallWorker
from productdemo.services.notifications.documents import DocumentOutcomes, filename_lookup
from productdemo.services.notifications.mcp import McpOutcomes, label_lookup
from productdemo.services.notifications.service import NotificationService
from productdemo.services.notifications.store import NotificationStore
from productdemo.services.presence import rpc as presence_rpc
from productdemo.services.presence.connections import ConnectionCounts
from productdemo.services.presence.service import PresenceService
from productdemo.services.presence.store import MemoryPresenceStore, PresenceStore, RedisPresenceStore
from productdemo.services.retrieval.components import Retrieval
from productdemo.services.retrieval.reembed import requeue_stale
from productdemo.services.users import rpc as users_rpc
from productdemo.services.users.passwords import Passwords
from productdemo.services.users.revocations import RevocationFollower
from productdemo.services.users.service import UserService
from productdemo.services.users.sessions import SessionStore
from productdemo.services.users.throttle import LoginThrottle
from productdemo.storage.database import create_engine, create_session_factory

logger = logging.getLogger(__name__)

WS_PATH = "/ws"


class Application:
    """The ASGI entry point: ``/ws`` goes straight to the WebSocket endpoint, the rest to FastAPI.

    Routing the upgrade here keeps the per-handshake cost to the checks that matter
    (Origin, session) instead of the full routing and dependency machinery.
    """

    def __init__(self, api: FastAPI, websocket: WebSocketEndpoint, services: Services) -> None:
        self.api = api
        self.http: ASGIApp = CrossSiteGuard(body_limit(api, services.config), websocket.origins)
        self.websocket = websocket
        self.services = services

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A plain function handing back the handler's coroutine, not awaiting it: an open
        # socket then keeps no frame of this one for its whole life (docs/performance.md).
        kind = scope["type"]
        if kind == "websocket":
            if scope["path"] == WS_PATH:
                return self.websocket(scope, receive, send)  # type: ignore[arg-type]
            return _refuse_websocket(receive, send)
        if kind == "lifespan":
            return self.api(scope, receive, send)
        return self.http(scope, receive, send)


async def _refuse_websocket(receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.close", "code": 1008})


def body_limit(api: ASGIApp, config: Config) -> BodyLimit:
    """Small JSON bodies everywhere; room for MAX_FILES documents on the upload route."""
    upload = config.documents.max_upload_size * MAX_FILES + MULTIPART_OVERHEAD
    return BodyLimit(api, config.server.max_json_body, {("POST", "/api/documents"): upload})


def create_app(config: Config) -> Application:
    engine = create_engine(
        config.database_url,
        config.database.pool_size,
        config.database.max_overflow,
        config.database.pool_timeout,
    )
    db = create_session_factory(engine)
    rt = config.realtime
    broker: Broker
    if config.broker.url:
        broker = RedisBroker(config.broker.url, config.broker.prefix, rt.history_size, rt.history_ttl)
    else:
        broker = MemoryBroker(MemoryHistory(rt.history_size, rt.history_ttl))
    hub = Hub(broker, rt)
    router = Router(hub)
    register_core(router)
    sec = config.security
    sessions = SessionStore(db, config.secret_key(), sec.session_lifetime)
    users = UserService(db, sessions, Passwords(sec.argon2_time_cost, sec.argon2_memory_kib))
    users_rpc.register(router, sessions)
    notifications = NotificationService(NotificationStore(db), broker, config.notifications.page_max)
    presence_store: PresenceStore = (
        RedisPresenceStore(config.broker.url, config.broker.prefix, config.presence.ttl)
        if config.broker.url
        else MemoryPresenceStore()
    )
    presence = PresenceService(
        presence_store, broker, config.instance_id, config.presence.ttl, config.presence.tick
    )
    presence_rpc.register(router, presence)
    hub.add_listener(presence)
    hub.add_listener(
        ConnectionCounts(broker, lambda topic: broker.shared or topic_stream(topic) in hub.registry.by_stream)
    )
    follower = RevocationFollower(db, sessions, hub, revalidate_interval=sec.session_revalidate_interval)
    uploads = FileStore(db)
    docs = config.documents
    extraction = ExtractionPool(docs.concurrency)
    retrieval = Retrieval.build(config.retrieval)
    processor = DocumentProcessor(
        db,
        DocumentOutcomes(broker, notifications, filename_lookup(db)),
        uploads,
        extraction,
        retrieval.stage,
        docs.concurrency,
        config.instance_id,
        engine.dialect.name,
        lease=docs.lease_seconds,
        poll_interval=docs.poll_interval,
        max_attempts=docs.max_attempts,
    )
    documents = DocumentService(db, broker, uploads, processor, config.documents.max_upload_size)
    documents_access.register(router, documents)
    search = DocumentSearch(
        db, engine.dialect.name, retrieval.semantic, retrieval.candidates, retrieval.fusion
    )
    llm = config.llm
    answers = Answers(
        Leases(db, config.instance_id, llm.lease_seconds, serialize_writes=engine.dialect.name == "sqlite"),
        broker,
        broker.signals,
        search,
        create_generator(llm),
        llm.sources,
        llm.flush_interval,
        # The extractive generator quotes passages for the question alone: no history to read.
        llm.history_chars if llm.provider != "extractive" else 0,
        llm.max_starting,
    )
    chat = ChatService(db, broker, answers)
    chat_access.register(router, chat)
    mcp_audit = AuditLog(db)
    mcp_hosts = HostService(db, Vault(config.secret_key()), mcp_audit, config.mcp.connect_timeout)
    mcp_events = McpOutcomes(broker, notifications, label_lookup(db))
    mcp_worker = InstallWorker(
        db, mcp_events, mcp_audit, mcp_hosts.credentials, config.mcp, config.instance_id, engine.dialect.name
    )
    mcp_installs = InstallService(db, mcp_events, mcp_hosts, mcp_audit, mcp_worker, config.mcp)
    mcp_access.register(router)
    services = Services(
        config=config,
        db=db,
        sessions=sessions,
        users=users,
        throttle=LoginThrottle(config.security.login_max_failures, config.security.login_window),
        notifications=notifications,
        events=broker,
        broker=broker,
        hub=hub,
        documents=documents,
        search=search,
        chat=chat,
        mcp_hosts=mcp_hosts,
        mcp_installs=mcp_installs,
        mcp_audit=mcp_audit,
    )

    recent_errors = RecentErrors()
    dashboard = Dashboard(broker, config.instance_id, config.dashboard.interval, recent_errors)
    dashboard.register(
        "connections",
        dashboard_sources.connections_source(hub.metrics, lambda: len(hub.registry), presence.local_users),
    )
    dashboard.register("broker", dashboard_sources.broker_source(lambda: broker.healthy, lambda: broker.lag))
    dashboard.register("documents", dashboard_sources.documents_source(db), shared=True)
    dashboard.register("presence", presence.figures, shared=True)
    dashboard.register("chat", dashboard_sources.chat_source(lambda: len(answers.running())))
    dashboard.register("mcp", dashboard_sources.mcp_source(db), shared=True)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await broker.start()
        await follower.start()  # reads where the revocation log stands, then preloads sessions
        extraction.start()
        retrieval.pool.start()
        await retrieval.vectors.start(db)
        await requeue_stale(db, broker, retrieval.model_id)
        await processor.start()
        await answers.start(single=engine.dialect.name == "sqlite")
        await mcp_worker.start()
        await presence.start()
        logging.getLogger("productdemo").addHandler(recent_errors)
        await dashboard.start()
        try:
            yield
        finally:
            await dashboard.stop()
            logging.getLogger("productdemo").removeHandler(recent_errors)
            await presence.stop()
            await mcp_worker.stop()
            await answers.stop()
            await processor.stop()
            await extraction.close()
            await retrieval.pool.close()
            await follower.stop()
            await broker.close()
            await sessions.drain()
            await engine.dispose()

    api = FastAPI(
        title="ProductDemo",
        version="1",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    api.state.services = services
    api.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    api.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    api_errors.install(api, get_current_session)
    api.include_router(auth.router)
    api.include_router(admin.router)
    api.include_router(documents_api.router)
    api.include_router(notifications_api.router)
    api.include_router(chat_api.router)
    api.include_router(mcp_api.router)
    api.include_router(health.router)
    collector = RealtimeCollector(
        hub.metrics, lambda: len(hub.registry), lambda: broker.lag, lambda: broker.healthy
    )
    api.include_router(health.metrics_router(collector))
    api.include_router(client_router(config.server.client_dir))

    async def authenticate(token: str) -> Principal | None:
        record = await sessions.lookup(token)
        if record is None:
            return None
        return Principal(record.user_id, record.username, record.role, record.session_hash)

    def on_activity(principal: Principal) -> None:
        sessions.touch_hash(principal.session_hash)

    quota = SocketQuota(rt.max_sockets_per_user, rt.max_sockets_per_address)
    endpoint = WebSocketEndpoint(
        hub, router, authenticate, on_activity, OriginPolicy(config.security.allowed_origins), quota
    )
    return Application(api, endpoint, services)


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    # One shape for every client error: a readable message naming the fields, and a code.
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"] if p != "body")
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return JSONResponse({"detail": "; ".join(parts), "code": "bad_request"}, status_code=400)


async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
    headers: dict[str, Any] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=exc.status, headers=headers)
