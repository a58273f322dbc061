"""Accounts: create, list, change password, disable, and check credentials."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import BadRequest, Conflict, NotFound, Unauthorized
from productdemo.services.notifications.store import start_read_mark
from productdemo.services.users.passwords import Passwords, check_strength
from productdemo.services.users.sessions import SessionStore
from productdemo.storage.models import User

Role = Literal["admin", "user"]
ROLES: tuple[Role, ...] = ("admin", "user")
USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
BAD_CREDENTIALS = "wrong username or password"


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str
    role: str
    disabled: bool


def _info(user: User) -> UserInfo:
    return UserInfo(user.id, user.username, user.role, user.disabled)


class UserService:
    def __init__(
        self, db: async_sessionmaker[AsyncSession], sessions: SessionStore, passwords: Passwords | None = None
    ) -> None:
        self._db = db
        self.sessions = sessions
        self.passwords = passwords or Passwords()

    async def create(self, username: str, password: str, role: str) -> UserInfo:
        """Create an account.

        Raises:
            BadRequest: bad username, role or password. Conflict: the name is taken.
        """
        if not USERNAME.match(username):
            raise BadRequest("a username is 1-64 letters, digits, '_', '.' or '-'")
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}")
        try:
            check_strength(password)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        user = User(
            username=username, password_hash=await self.passwords.hash(password), role=role, disabled=False
        )
        async with self._db() as db:
            db.add(user)
            try:
                await db.flush()
            except IntegrityError:
                raise Conflict(f"user {username!r} already exists") from None
            start_read_mark(db, user.id)
            await db.commit()
        return _info(user)

    async def list(self) -> list[UserInfo]:
        async with self._db() as db:
            users = (await db.scalars(select(User).order_by(User.id))).all()
        return [_info(u) for u in users]

    async def count(self) -> int:
        async with self._db() as db:
            return int(await db.scalar(select(func.count()).select_from(User)) or 0)

    async def get(self, user_id: int) -> UserInfo:
        async with self._db() as db:
            user = await db.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        return _info(user)

    async def _by_name(self, db: AsyncSession, username: str) -> User:
        user = await db.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        return user

    async def set_password(self, username: str, password: str) -> None:
        """Change a password and end every session of that user (their sockets close with 4401)."""
        try:
            check_strength(password)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        new_hash = await self.passwords.hash(password)
        async with self._db() as db:
            user = await self._by_name(db, username)
            user.password_hash = new_hash
            await self.sessions.end_user(db, user.id, "password_changed")
            await db.commit()

    async def disable(self, username: str) -> None:
        """Disable an account and end its sessions (their sockets close with 4401)."""
        async with self._db() as db:
            user = await self._by_name(db, username)
            user.disabled = True
            await self.sessions.end_user(db, user.id, "disabled")
            await db.commit()

    async def authenticate(self, username: str, password: str) -> User:
        """The user these credentials name.

        Raises:
            Unauthorized: the same message for an unknown user, a wrong password or a disabled account.
        """
        async with self._db() as db:
            user = await db.scalar(select(User).where(User.username == username))
        ok = await self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled:
            raise Unauthorized(BAD_CREDENTIALS)
        return user

    async def ensure_admin(self) -> str | None:
        """With no users at all, create ``admin`` with a random password and return it (once)."""
        if await self.count():
            return None
        password = secrets.token_urlsafe(12)
        try:
            await self.create("admin", password, "admin")
        except Conflict:
            return None
        return password
