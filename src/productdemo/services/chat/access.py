"""What the chat adds to the socket layer: only its owner may follow ``conversation:<id>``."""

from __future__ import annotations

from productdemo.realtime.connection import Principal
from productdemo.realtime.router import Router
from productdemo.services.chat.service import ChatService


def register(router: Router, chat: ChatService) -> None:
    async def may_follow(principal: Principal, topic: str) -> bool:
        """The owner may follow a conversation; anyone else (administrators too) is refused:
        a conversation quotes its owner's private documents."""
        owner = await chat.owner_of(topic.split(":", 1)[1])
        return owner is not None and owner == principal.user_id

    router.add_topic("conversation", may_follow)
