"""This instance's sockets, indexed by user, by session and by stream."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from productdemo.realtime.connection import Connection
from productdemo.realtime.protocol import CamelModel


class ConnectedUser(CamelModel):
    user_id: int
    username: str
    connections: int


class ConnectionsPublic(CamelModel):
    """This instance's sockets per user (the admin's ``connections.list``)."""

    users: list[ConnectedUser]
    total: int


class Registry:
    """Plain indexes; the hub keeps them consistent with the sockets' lifetimes."""

    def __init__(self) -> None:
        self.by_id: dict[str, Connection] = {}
        self.by_user: dict[int, set[Connection]] = {}
        self.by_session: dict[str, set[Connection]] = {}
        self.by_stream: dict[str, set[Connection]] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def add(self, conn: Connection) -> None:
        self.by_id[conn.id] = conn
        self.by_user.setdefault(conn.principal.user_id, set()).add(conn)
        self.by_session.setdefault(conn.principal.session_hash, set()).add(conn)

    def remove(self, conn: Connection) -> list[str]:
        """Forget ``conn`` everywhere; returns the streams no local socket needs any more."""
        if self.by_id.pop(conn.id, None) is None:
            return []
        _discard(self.by_user, conn.principal.user_id, conn)
        _discard(self.by_session, conn.principal.session_hash, conn)
        return [s for s in list(conn.streams) if self.leave(conn, s)]

    def join(self, conn: Connection, stream: str) -> bool:
        """Add ``conn`` to ``stream``; True if it is the stream's first local socket."""
        conns = self.by_stream.get(stream)
        conn.streams.add(stream)
        if conns is None:
            self.by_stream[stream] = {conn}
            return True
        conns.add(conn)
        return False

    def leave(self, conn: Connection, stream: str) -> bool:
        """Remove ``conn`` from ``stream``; True if no local socket is left on it."""
        conn.streams.discard(stream)
        return _discard(self.by_stream, stream, conn)

    def of_user(self, user_id: int) -> Iterable[Connection]:
        return tuple(self.by_user.get(user_id, ()))

    def of_session(self, session_hash: str) -> Iterable[Connection]:
        return tuple(self.by_session.get(session_hash, ()))


K = TypeVar("K")


def _discard(index: dict[K, set[Connection]], key: K, conn: Connection) -> bool:
    conns = index.get(key)
    if conns is None:
        return False
    conns.discard(conn)
    if not conns:
        del index[key]
        return True
    return False
