"""What the MCP module adds to the socket layer: only administrators follow ``mcp_install:<id>``."""

from __future__ import annotations

from productdemo.realtime.connection import Principal
from productdemo.realtime.router import Router


def register(router: Router) -> None:
    async def may_follow(principal: Principal, _topic: str) -> bool:
        """Install output can show anything a host prints: administrators only."""
        return principal.is_admin

    router.add_topic("mcp_install", may_follow)
