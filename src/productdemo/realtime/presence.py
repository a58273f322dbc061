"""Who is connected to this instance, and the event that tells admins when it changes."""

from __future__ import annotations

from pydantic import Field

from productdemo.realtime.events import Event
from productdemo.realtime.protocol import CamelModel

#: Admins subscribe to this topic to follow ``connections_changed``.
CONNECTIONS_TOPIC = "admin:connections"


class ConnectionsChanged(Event):
    """A user's number of open sockets on an instance changed."""

    event_type = "connections_changed"
    user_id: int
    username: str
    connections: int = Field(ge=0)

    def conflation_key(self) -> str:
        return f"connections_changed:{self.user_id}"


class ConnectedUser(CamelModel):
    user_id: int
    username: str
    connections: int


class ConnectionsPublic(CamelModel):
    users: list[ConnectedUser]
    total: int
