"""Dependencies shared by the routes: the services, the signed-in user, the admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.config import Config
from productdemo.errors import Forbidden, Unauthorized
from productdemo.realtime.endpoint import COOKIE_NAME
from productdemo.realtime.hub import Hub
from productdemo.realtime.publisher import Publisher
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
    hub: Hub


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_current_session(request: Request, services: ServicesDep) -> SessionRecord:
    """The session the cookie names (and slide its expiry), or 401."""
    token = request.cookies.get(COOKIE_NAME)
    record = await services.sessions.lookup(token) if token else None
    if record is None:
        raise Unauthorized("sign in first")
    services.sessions.touch(record)
    return record


CurrentSession = Annotated[SessionRecord, Depends(get_current_session)]


async def get_admin_session(session: CurrentSession) -> SessionRecord:
    if session.role != "admin":
        raise Forbidden("administrators only")
    return session


AdminSession = Annotated[SessionRecord, Depends(get_admin_session)]
