"""NotificationService: message validation and the notification events it publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from productdemo.errors import BadRequest
from productdemo.realtime.broker import MemoryBroker
from productdemo.realtime.history import MemoryHistory
from productdemo.services.notifications.service import NotificationService, validate_message
from productdemo.services.notifications.store import NotificationStore
from productdemo.storage.database import create_engine, create_session_factory, upgrade
from productdemo.storage.models import User

Published = list[tuple[str, dict[str, object]]]


@pytest.fixture
def published() -> Published:
    return []


@pytest.fixture
async def notifications(published: Published, tmp_path: Path) -> AsyncIterator[NotificationService]:
    """The service on a migrated SQLite database and the real in-process broker, with every
    delivered frame recorded; user 7 exists."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"
    await upgrade(url)
    engine = create_engine(url)
    db = create_session_factory(engine)
    async with db() as session:
        session.add(User(id=7, username="seven", password_hash="-", role="user"))
        await session.commit()
    broker = MemoryBroker(MemoryHistory(100, 600))
    broker.attach(lambda stream, _seq, frame, _key: published.append((stream, orjson.loads(frame))))
    yield NotificationService(NotificationStore(db), broker)
    await engine.dispose()


def _refusal(message: str) -> str:
    with pytest.raises(BadRequest) as info:
        validate_message(message)
    assert info.value.code == "bad_request"
    return info.value.message


@pytest.mark.parametrize("message", ["", "   ", "\n\t \n"])
def test_empty_message_is_refused(message: str) -> None:
    """A message that is empty after stripping whitespace is refused."""
    assert _refusal(message) == "the message is empty"


def test_too_long_message_is_refused() -> None:
    """A message of 2001 characters is refused, naming its length and the limit."""
    assert _refusal("x" * 2001) == "the message has 2001 characters; at most 2000 are allowed"


def test_message_of_the_maximum_length_is_accepted() -> None:
    """A message of exactly 2000 characters passes; surrounding whitespace does not count."""
    assert validate_message("  " + "x" * 2000 + "\n") == "x" * 2000


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\r", "\x7f", "\x85", "\x9f"])
def test_control_characters_are_refused(char: str) -> None:
    """C0 and C1 control characters (other than tab and newline) are refused."""
    assert _refusal(f"hello{char}world") == "the message contains control characters"


def test_newline_and_tab_are_allowed() -> None:
    """Newlines and tabs inside a message are kept as they are; the ends are stripped."""
    assert validate_message(" line 1\n\tline 2 <b>not markup</b>\n") == "line 1\n\tline 2 <b>not markup</b>"


async def test_announce_to_everyone_publishes_on_the_all_stream(
    notifications: NotificationService, published: Published
) -> None:
    """An announcement without a user goes to stream ``all`` as a ``notification`` event."""
    before = datetime.now(UTC)
    await notifications.announce("  Maintenance at 18:00\n", "root", level="warning")
    [(stream, frame)] = published
    payload = frame["payload"]
    assert isinstance(payload, dict)
    created = datetime.fromisoformat(payload.pop("createdAt"))
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= created <= datetime.now(UTC)
    assert stream == "all"
    assert frame == {
        "type": "notification",
        "payload": {
            "id": 1,
            "kind": "announcement",
            "message": "Maintenance at 18:00",
            "from": "root",
            "level": "warning",
            "link": None,
        },
        "stream": "all",
        "seq": 1,
    }


async def test_announce_to_a_user_publishes_on_their_stream(
    notifications: NotificationService, published: Published
) -> None:
    """An announcement for one user goes to ``user:<id>``, with level info by default."""
    await notifications.announce("hi", "root", user_id=7)
    await notifications.announce("again", "root", user_id=7)
    assert [(s, f["type"], f["seq"]) for s, f in published] == [
        ("user:7", "notification", 1),
        ("user:7", "notification", 2),
    ]
    payload = published[0][1]["payload"]
    assert isinstance(payload, dict)
    assert (payload["message"], payload["from"], payload["level"]) == ("hi", "root", "info")


async def test_bad_message_publishes_nothing(
    notifications: NotificationService, published: Published
) -> None:
    """A refused message raises BadRequest and reaches no stream."""
    with pytest.raises(BadRequest):
        await notifications.announce("bell\x07", "root")
    assert published == []
