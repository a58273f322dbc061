"""The base of every server event. Services subclass :class:`Event` beside the code that sends it.

Each subclass names its wire ``type`` and, for state that a newer event supersedes,
a conflation key (see ``docs/websocket-protocol.md``, "Slow consumers").
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import orjson

from productdemo.realtime.protocol import CamelModel

_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: Every event type, by wire name; filled by subclassing, read by the docs and TS generators.
EVENT_TYPES: dict[str, type[Event]] = {}


class Event(CamelModel):
    """A server event's payload. ``event_type`` is the frame's ``type``."""

    event_type: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("event_type")
        if name is None:
            return
        if not _TYPE_NAME.match(name):
            raise TypeError(f"event type {name!r} must be snake_case")
        if name in EVENT_TYPES and EVENT_TYPES[name].__qualname__ != cls.__qualname__:
            raise TypeError(f"event type {name!r} is defined twice")
        EVENT_TYPES[name] = cls

    def conflation_key(self) -> str | None:
        """A key shared by events that supersede each other, or None if none may be dropped."""
        return None

    def payload_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))
