"""Events an install publishes on topic ``mcp_install:<id>``."""

from __future__ import annotations

from typing import Literal

from productdemo.realtime.events import Event

InstallState = Literal[
    "queued", "connecting", "running", "verifying", "succeeded", "failed", "error", "timed_out", "cancelled"
]
ACTIVE_STATES: tuple[str, ...] = ("queued", "connecting", "running", "verifying")
FINAL_STATES: tuple[str, ...] = ("succeeded", "failed", "error", "timed_out", "cancelled")


class McpInstallUpdate(Event):
    """An install changed state. ``exitStatus`` is the install command's, once it has exited."""

    event_type = "mcp_install"
    install_id: str
    state: InstallState
    exit_status: int | None = None
    message: str = ""


class McpInstallOutput(Event):
    """Install output; ``offset`` is its first byte's position in the install's UTF-8 log."""

    # The offset lets a viewer merge live frames with what it fetched over REST, and see a gap.

    event_type = "mcp_install_output"
    install_id: str
    stream: Literal["stdout", "stderr"]
    offset: int
    data: str


def install_topic(install_id: str) -> str:
    return f"mcp_install:{install_id}"
