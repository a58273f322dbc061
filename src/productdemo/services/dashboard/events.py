"""The dashboard's one event: an instance's latest figures (a state event, conflated)."""

from __future__ import annotations

from pydantic import Field

from productdemo.realtime.events import Event
from productdemo.realtime.protocol import CamelModel


class RecentError(CamelModel):
    at: int = Field(description="Unix time in milliseconds.")
    source: str = Field(description="The logger that reported it.")
    message: str


class DashboardUpdate(Event):
    """One instance's figures now. Each instance sends its own; a slow socket gets the latest."""

    event_type = "dashboard_update"
    instance: str
    at: int = Field(description="Unix time in milliseconds.")
    interval: float = Field(description="Seconds between updates of this instance.")
    figures: dict[str, dict[str, float]] = Field(
        description="This instance's part, by source (summed over instances for the total)."
    )
    shared: dict[str, dict[str, float]] = Field(
        description="Figures every instance reads from the shared database (shown once)."
    )
    errors: list[RecentError]

    def conflation_key(self) -> str:
        return f"dashboard_update:{self.instance}"
