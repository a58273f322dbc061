"""Connection lifecycle listeners: how features learn that sockets opened and closed.

The hub calls every registered listener after a socket is registered (``hello`` sent)
and after it is gone. Features such as presence build on this without the realtime
layer knowing of them: ``app.py`` registers them with :meth:`Hub.add_listener`.
"""

from __future__ import annotations

from typing import Protocol

from productdemo.realtime.connection import Principal


class ConnectionListener(Protocol):
    async def connection_opened(self, principal: Principal, connection_id: str) -> None:
        """A socket of ``principal`` is open on this instance."""
        ...

    async def connection_closed(self, principal: Principal, connection_id: str) -> None:
        """A socket of ``principal`` on this instance is gone."""
        ...
