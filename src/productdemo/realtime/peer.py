"""What the WebSocket protocol knows of its peer: frame limits, held pongs, the socket's owner.

``SocketOwner`` is the small interface through which the protocol (``transport.py``)
reaches the hub's ``Connection`` on flow-control changes and for rate-limit tokens,
so the protocol does not depend on the connection module, which depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from productdemo.realtime.protocol import CloseCode
from productdemo.realtime.ratelimit import TokenBucket


@dataclass(frozen=True, slots=True)
class FrameLimits:
    max_fragments: int = 64  # frames one message may be split into
    fragment_timeout: float = 10.0  # seconds from a message's first fragment to its last


class SocketOwner(Protocol):
    """What the protocol needs of whoever owns the socket (the hub's ``Connection``)."""

    @property
    def id(self) -> str: ...

    @property
    def bucket(self) -> TokenBucket: ...

    def on_pause(self) -> None: ...

    def on_resume(self) -> None: ...

    def close(self, code: CloseCode, reason: str) -> None: ...


class PongHoldingServerProtocol(ServerProtocol):
    """websockets' server protocol, except that pongs wait in ``pongs`` for the caller.

    websockets queues a pong for every ping it parses, all before the caller sees the
    first ping; held here, each pong is sent (or not) when its ping is handled.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A list, not a deque: an empty deque costs a 600-byte block on every idle socket.
        self.pongs: list[bytes] = []

    def open(self) -> None:
        """The handshake was answered elsewhere (``handshake.py``): parse frames from now on."""
        self.state = State.OPEN
        self.parser = self.parse()
        next(self.parser)

    def send_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.PONG:
            self.pongs.append(frame.serialize(mask=False, extensions=self.extensions))
        else:
            super().send_frame(frame)
