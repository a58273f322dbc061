"""Events the presence service publishes on ``presence:app`` and ``presence:admin``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializeAsAny

from productdemo.realtime.events import Event
from productdemo.realtime.protocol import CamelModel

Status = Literal["active", "idle"]


class PresenceUser(CamelModel):
    """One person online: active if any of their tabs had input lately, else idle."""

    user_id: int
    username: str
    status: Status


class AdminPresenceUser(PresenceUser):
    """What administrators see on ``presence:admin``: also the tabs, per instance."""

    tabs: int = Field(ge=0)
    instances: dict[str, int] = Field(description="Open tabs per instance.")


class PresenceState(Event):
    """Everyone online at ``version``; a subscriber gets it first, then applies diffs."""

    event_type = "presence_state"
    version: int
    users: list[SerializeAsAny[PresenceUser]]


class PresenceDiff(Event):
    """What changed since ``version - 1``; a client that missed a version asks for the state."""

    event_type = "presence_diff"
    version: int
    joins: list[SerializeAsAny[PresenceUser]]
    leaves: list[int]
    updates: list[SerializeAsAny[PresenceUser]]


class ConnectionsChanged(Event):
    """A user's number of open sockets on an instance changed (topic ``admin:connections``)."""

    event_type = "connections_changed"
    user_id: int
    username: str
    connections: int = Field(ge=0)

    def conflation_key(self) -> str:
        return f"connections_changed:{self.user_id}"


def state_from_json(topic_is_admin: bool, entry: dict[str, Any]) -> PresenceState:
    """A stored snapshot back as a state event, with the user type of its view."""
    user_type = AdminPresenceUser if topic_is_admin else PresenceUser
    users = [user_type.model_validate(u) for u in entry.get("users", ())]
    return PresenceState(version=int(entry.get("version", 0)), users=users)
