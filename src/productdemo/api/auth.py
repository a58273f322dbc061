"""Sign in, sign out, who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import Field

from productdemo.api.deps import CurrentSession, ServicesDep, set_session_cookie
from productdemo.api.errors import error_responses
from productdemo.cookies import COOKIE_NAME
from productdemo.errors import Unauthorized
from productdemo.realtime.protocol import CamelModel, CloseCode, UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(CamelModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserEnvelope(CamelModel):
    user: UserPublic


def _client_key(request: Request) -> str:
    return "ip:" + (request.client.host if request.client else "unknown")


@router.post("/login", responses=error_responses(401, 429))
async def login(
    body: LoginRequest, request: Request, response: Response, services: ServicesDep
) -> UserEnvelope:
    """Check the credentials and start a session (cookie ``connect.sid``)."""
    name_key = "user:" + body.username.lower()
    services.throttle.check(name_key, _client_key(request))
    try:
        user = await services.users.authenticate(body.username, body.password)
    except Unauthorized:
        services.throttle.failed(name_key, _client_key(request))
        raise
    services.throttle.succeeded(name_key)
    cookie, _ = await services.sessions.create(user)
    set_session_cookie(response, request, services.config, cookie)
    return UserEnvelope(user=UserPublic(id=user.id, username=user.username, role=user.role))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(session: CurrentSession, services: ServicesDep) -> Response:
    """End this session; its open sockets close with 4401."""
    await services.sessions.end(session.session_hash, "logout")
    services.hub.close_session(session.session_hash, CloseCode.SESSION_ENDED, "logout")
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


@router.get("/me")
async def me(session: CurrentSession) -> UserEnvelope:
    """The signed-in user, or 401."""
    return UserEnvelope(user=UserPublic(id=session.user_id, username=session.username, role=session.role))
