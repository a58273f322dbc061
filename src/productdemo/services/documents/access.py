"""What the documents module adds to the socket layer: who may follow ``document:<id>``."""

from __future__ import annotations

from productdemo.realtime.connection import Principal
from productdemo.realtime.router import Router
from productdemo.services.documents.service import DocumentService


def register(router: Router, documents: DocumentService) -> None:
    async def may_follow(principal: Principal, topic: str) -> bool:
        """The owner and administrators may follow a document; anyone else is refused."""
        if principal.is_admin:
            return True
        owner = await documents.owner_of(topic.split(":", 1)[1])
        return owner == principal.user_id

    router.add_topic("document", may_follow)
