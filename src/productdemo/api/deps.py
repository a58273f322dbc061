"""Dependencies shared by the routes: the services, the signed-in user, the admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.config import Config
from productdemo.cookies import COOKIE_NAME, session_token
from productdemo.errors import Forbidden, Unauthorized
from productdemo.realtime.broker import Broker
from productdemo.realtime.hub import Hub
from productdemo.realtime.publisher import Publisher
from productdemo.services.chat.service import ChatService
from productdemo.services.documents.search import DocumentSearch
from productdemo.services.documents.service import DocumentService
from productdemo.services.mcp.audit import AuditLog
from productdemo.services.mcp.hosts import HostService
from productdemo.services.mcp.installs import InstallService
from productdemo.services.notifications.service import NotificationService
from productdemo.services.users.service import UserService
from productdemo.services.users.sessions import SessionRecord, SessionStore
from productdemo.services.users.throttle import LoginThrottle


@dataclass
class Services:
    """Everything the routes reach, built once in ``create_app``."""

    config: Config
    db: async_sessionmaker[AsyncSession]
    sessions: SessionStore
    users: UserService
    throttle: LoginThrottle
    notifications: NotificationService
    events: Publisher
    broker: Broker
    hub: Hub
    documents: DocumentService
    search: DocumentSearch
    chat: ChatService
    mcp_hosts: HostService
    mcp_installs: InstallService
    mcp_audit: AuditLog


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def set_session_cookie(response: Response, request: Request, config: Config, value: str) -> None:
    """Set ``connect.sid``: HttpOnly, SameSite=Lax, Secure under HTTPS, living as long as the session."""
    sec = config.security
    secure = sec.cookie_secure == "always" or (sec.cookie_secure == "auto" and request.url.scheme == "https")
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=sec.session_lifetime,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


async def get_current_session(request: Request, response: Response, services: ServicesDep) -> SessionRecord:
    """The session the cookie names (and slide its expiry), or 401 (400 for an ambiguous cookie)."""
    token = session_token(request.scope["headers"])
    record = await services.sessions.lookup(token) if token else None
    if record is None or token is None:
        raise Unauthorized("sign in first")
    if services.sessions.touch(record):
        # The expiry moved: renew the cookie's Max-Age too, or the browser would drop a
        # cookie whose session is still alive (at most once per persist step).
        set_session_cookie(response, request, services.config, token)
    return record


CurrentSession = Annotated[SessionRecord, Depends(get_current_session)]


async def get_admin_session(session: CurrentSession) -> SessionRecord:
    if session.role != "admin":
        raise Forbidden("administrators only")
    return session


AdminSession = Annotated[SessionRecord, Depends(get_admin_session)]
