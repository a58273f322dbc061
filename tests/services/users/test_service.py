"""UserService: account rules, credentials, password changes and disabling."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import BadRequest, Conflict, NotFound, Unauthorized
from productdemo.services.users.passwords import Passwords
from productdemo.services.users.service import UserService
from productdemo.services.users.sessions import SessionStore
from productdemo.storage.database import create_engine, create_session_factory, upgrade
from tests.support import PASSWORD, unique_name

Db = async_sessionmaker[AsyncSession]
USERNAME_RULE = "a username is 1-64 letters, digits, '_', '.' or '-'"


@pytest.fixture
def users(db: Db) -> UserService:
    return UserService(db, SessionStore(db, b"secret", 3600), Passwords(time_cost=1, memory_kib=1024))


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "zoë", "a/b", "a@b", "tab\t", "new\nline"])
async def test_bad_usernames_are_refused(users: UserService, name: str) -> None:
    """Usernames outside 1-64 of [A-Za-z0-9_.-] are refused with the rule in the message."""
    with pytest.raises(BadRequest) as info:
        await users.create(name, PASSWORD, "user")
    assert info.value.message == USERNAME_RULE


@pytest.mark.parametrize("name", ["a", "x" * 64, "Ann.Lee-2_b"])
async def test_good_usernames_are_accepted(users: UserService, name: str) -> None:
    """One character, 64 characters and every allowed character class make valid usernames."""
    created = await users.create(name, PASSWORD, "user")
    assert (created.username, created.role, created.disabled) == (name, "user", False)


async def test_unknown_role_is_refused(users: UserService) -> None:
    """Only the roles admin and user exist."""
    with pytest.raises(BadRequest) as info:
        await users.create(unique_name(), PASSWORD, "root")
    assert info.value.message == "role must be one of admin, user"


async def test_weak_password_is_refused_on_create(users: UserService) -> None:
    """Creating an account with a short password is refused with the reason."""
    with pytest.raises(BadRequest) as info:
        await users.create(unique_name(), "short", "user")
    assert info.value.message == "a password needs at least 8 characters"


async def test_duplicate_username_is_a_conflict(users: UserService) -> None:
    """A second account with a taken name is refused, naming it."""
    name = unique_name()
    await users.create(name, PASSWORD, "user")
    with pytest.raises(Conflict) as info:
        await users.create(name, PASSWORD, "admin")
    assert info.value.message == f"user {name!r} already exists"


async def test_authenticate_accepts_the_right_password(users: UserService) -> None:
    """The right name and password return that user."""
    created = await users.create(unique_name(), PASSWORD, "admin")
    user = await users.authenticate(created.username, PASSWORD)
    assert (user.id, user.username, user.role) == (created.id, created.username, "admin")


async def test_wrong_password_unknown_user_and_disabled_fail_alike(users: UserService) -> None:
    """A wrong password, an unknown name and a disabled account give one and the same error."""
    name, disabled = unique_name(), unique_name()
    await users.create(name, PASSWORD, "user")
    await users.create(disabled, PASSWORD, "user")
    await users.disable(disabled)
    errors = []
    for username, password in ((name, PASSWORD + "x"), (unique_name(), PASSWORD), (disabled, PASSWORD)):
        with pytest.raises(Unauthorized) as info:
            await users.authenticate(username, password)
        errors.append(str(info.value))
    assert errors == ["unauthorized: wrong username or password"] * 3


async def test_set_password_replaces_it_and_ends_sessions(db: Db, users: UserService) -> None:
    """After a password change only the new password works and the old sessions are gone."""
    created = await users.create(unique_name(), PASSWORD, "user")
    cookie, _ = await users.sessions.create(await users.authenticate(created.username, PASSWORD))
    await users.set_password(created.username, "a brand new password")
    await users.authenticate(created.username, "a brand new password")
    with pytest.raises(Unauthorized):
        await users.authenticate(created.username, PASSWORD)
    assert await users.sessions.lookup(cookie) is None
    assert await SessionStore(db, b"secret", 3600).lookup(cookie) is None


async def test_set_password_checks_strength_and_name(users: UserService) -> None:
    """A weak new password and an unknown user are refused with readable messages."""
    created = await users.create(unique_name(), PASSWORD, "user")
    with pytest.raises(BadRequest) as weak:
        await users.set_password(created.username, "short")
    assert weak.value.message == "a password needs at least 8 characters"
    with pytest.raises(NotFound) as unknown:
        await users.set_password("nobody-here", "long enough password")
    assert unknown.value.message == "no user 'nobody-here'"


async def test_disable_marks_the_user_and_ends_sessions(db: Db, users: UserService) -> None:
    """A disabled user is listed as disabled and their session cookies stop working."""
    created = await users.create(unique_name(), PASSWORD, "user")
    cookie, _ = await users.sessions.create(await users.authenticate(created.username, PASSWORD))
    await users.disable(created.username)
    assert (await users.get(created.id)).disabled is True
    assert await users.sessions.lookup(cookie) is None
    assert await SessionStore(db, b"secret", 3600).lookup(cookie) is None


async def test_get_unknown_user_is_not_found(users: UserService) -> None:
    """Looking up a user id that does not exist raises NotFound naming the id."""
    with pytest.raises(NotFound) as info:
        await users.get(987654)
    assert info.value.message == "no user 987654"


async def test_ensure_admin_creates_admin_only_in_an_empty_database(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """On an empty database ensure_admin creates admin and returns its password; then never again."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('empty') / 'test.db'}"
    await upgrade(url)
    engine = create_engine(url)
    try:
        db = create_session_factory(engine)
        users = UserService(db, SessionStore(db, b"secret", 3600), Passwords(time_cost=1, memory_kib=1024))
        password = await users.ensure_admin()
        assert password is not None and len(password) >= 16
        assert [(u.username, u.role) for u in await users.list()] == [("admin", "admin")]
        assert (await users.authenticate("admin", password)).role == "admin"
        assert await users.ensure_admin() is None
        assert await users.count() == 1
    finally:
        await engine.dispose()
