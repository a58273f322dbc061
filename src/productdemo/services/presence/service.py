"""The presence service: this instance's tabs in, merged versioned diffs out.

Sockets opening and closing arrive through the realtime layer's connection listeners;
a tab's input state through the ``presence.activity`` RPC. Every ``tick`` the instance
writes its part when it changed (and every ``ttl / 3`` anyway, as a heartbeat); the
leader merges all parts and publishes what changed as ``presence_diff`` on
``presence:app`` (name and status) and ``presence:admin`` (plus tabs per instance).
Diffs are conflated by the tick: a hundred joins in one tick are one frame.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.exceptions import RedisError

from productdemo.errors import DomainError
from productdemo.realtime.connection import Principal
from productdemo.realtime.publisher import Publisher
from productdemo.services.presence.events import (
    AdminPresenceUser,
    PresenceDiff,
    PresenceState,
    PresenceUser,
    state_from_json,
)
from productdemo.services.presence.model import Merger, Part, Tab, entry_of, user_json
from productdemo.services.presence.store import PresenceStore

logger = logging.getLogger(__name__)

APP_TOPIC = "presence:app"
ADMIN_TOPIC = "presence:admin"


class PresenceService:
    def __init__(
        self, store: PresenceStore, events: Publisher, instance: str, ttl: float, tick: float
    ) -> None:
        self.store = store
        self.events = events
        self.instance = instance
        self.tick = tick
        self.heartbeat = ttl / 3
        self.tabs: dict[str, Tab] = {}
        #: this instance's part, kept as tabs open and close (the same as part_of(self.tabs))
        self.part: Part = {}
        self._dirty = True
        self._last_write = 0.0
        self._merger = Merger()
        #: each view's users in wire form, kept for the snapshot as they change
        self._wire: dict[str, dict[int, dict[str, Any]]] = {APP_TOPIC: {}, ADMIN_TOPIC: {}}
        self._version: dict[str, int] = {}
        self._leading = False
        self._seen_changes = -1
        self._last_merge = 0.0
        self._last_snapshot = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._states: dict[str, PresenceState] = {}

    # --- what this instance knows ------------------------------------------------------

    async def connection_opened(self, principal: Principal, connection_id: str) -> None:
        tab = self.tabs[connection_id] = Tab(principal.user_id, principal.username)
        self._count(tab, 1, 1)

    async def connection_closed(self, principal: Principal, connection_id: str) -> None:
        tab = self.tabs.pop(connection_id, None)
        if tab is not None:
            self._count(tab, -1, -tab.active)

    def set_active(self, connection_id: str, active: bool) -> None:
        """A tab reports input (active) or none for a while (idle)."""
        tab = self.tabs.get(connection_id)
        if tab is not None and tab.active != active:
            tab.active = active
            self._count(tab, 0, 1 if active else -1)

    def _count(self, tab: Tab, tabs: int, active: int) -> None:
        username, old_tabs, old_active = self.part.get(tab.user_id, (tab.username, 0, 0))
        if old_tabs + tabs > 0:
            self.part[tab.user_id] = (username, old_tabs + tabs, old_active + active)
        else:
            self.part.pop(tab.user_id, None)
        self._dirty = True

    # --- what subscribers get ------------------------------------------------------------

    async def state(self, topic: str) -> PresenceState:
        """The last merged state of ``topic``'s view, with its version."""
        try:
            snapshot = await self.store.load_snapshot()
        except (RedisError, OSError) as exc:
            logger.warning("presence snapshot unavailable: %s", exc)
            snapshot = None
        entry = (snapshot or {}).get(topic) or {}
        cached = self._states.get(topic)
        # Subscribers arrive in bursts (a deploy, a reconnect wave): build each version once.
        if cached is not None and cached.version == entry.get("version", 0) and entry:
            return cached
        state = self._states[topic] = state_from_json(topic == ADMIN_TOPIC, entry)
        return state

    # --- the loop --------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="presence")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.store.close()

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await self.step()
                if failing:
                    logger.info("presence store reachable again")
                failing = False
            except (RedisError, OSError, DomainError) as exc:
                if not failing:
                    logger.warning("presence: store or broker unavailable: %s", exc)
                failing = True
                # Write everything again once the store is back (it may have restarted empty).
                self._dirty = True
                self._seen_changes = -1
                self._last_snapshot = float("-inf")
            await asyncio.sleep(self.tick)

    async def step(self) -> None:
        """One tick: write this instance's part if due, then merge and publish if leading."""
        now = time.monotonic()
        if self._dirty or now - self._last_write >= self.heartbeat:
            changed, self._dirty = self._dirty, False
            # A copy: the store (and the leader's comparison with the last part) keeps it.
            await self.store.write_part(self.instance, dict(self.part), changed)
            self._last_write = now
        if not await self.store.lead(self.instance):
            self._leading = False
            return
        if not self._leading:
            await self._take_lead()
        changes = await self.store.changes()
        # Parts also change by expiring, which moves no counter: then merge every second too.
        due = self.store.expires and now - self._last_merge >= min(self.heartbeat, 1.0)
        if changes == self._seen_changes and not due:
            return
        self._seen_changes = changes
        self._last_merge = now
        await self._merge_and_publish(now)

    async def _take_lead(self) -> None:
        snapshot = await self.store.load_snapshot() or {}
        # Versions keep rising across leaders; without a snapshot (Redis restarted) start
        # from the clock, so clients see a gap and take the new state.
        fallback = int(time.time() * 1000)
        views: dict[str, dict[int, Any]] = {}
        for topic in (APP_TOPIC, ADMIN_TOPIC):
            entry = snapshot.get(topic)
            users = entry.get("users", ()) if entry is not None else ()
            views[topic] = {int(u["userId"]): entry_of(u) for u in users}
            self._wire[topic] = {uid: user_json(uid, e) for uid, e in views[topic].items()}
            if entry is None:
                self._version[topic] = max(fallback, self._version.get(topic, 0))
            else:
                self._version[topic] = int(entry.get("version", 0))
        self._merger.reset(views[APP_TOPIC], views[ADMIN_TOPIC])
        self._leading = True
        self._seen_changes = -1
        self._last_snapshot = float("-inf")
        logger.info("presence: %s leads", self.instance)

    async def _merge_and_publish(self, now: float) -> None:
        merger = self._merger
        public, admin = merger.update(await self.store.read_parts())
        changes: dict[str, tuple[dict[int, Any], tuple[list[int], list[int], list[int]]]] = {
            APP_TOPIC: (merger.public, public),
            ADMIN_TOPIC: (merger.admin, admin),
        }
        events: list[tuple[str, PresenceDiff]] = []
        for topic, (new, (joins, leaves, updates)) in changes.items():
            wire = self._wire[topic]
            for uid in leaves:
                wire.pop(uid, None)
            for uid in joins + updates:
                wire[uid] = user_json(uid, new[uid])
            if joins or leaves or updates:
                self._version[topic] += 1
                event = PresenceDiff.model_validate(
                    {
                        "version": self._version[topic],
                        "joins": [_user(topic, uid, new[uid]) for uid in joins],
                        "leaves": leaves,
                        "updates": [_user(topic, uid, new[uid]) for uid in updates],
                    }
                )
                events.append((topic, event))
        # Saved when it changed, and each heartbeat so that its TTL in Redis never runs out.
        if events or now - self._last_snapshot >= self.heartbeat:
            await self.store.save_snapshot({t: self._snapshot_of(t) for t in changes})
            self._last_snapshot = now
        for topic, event in events:
            await self.events.to_topic(topic, event)

    def _snapshot_of(self, topic: str) -> dict[str, Any]:
        wire = self._wire[topic]
        return {"version": self._version[topic], "users": [wire[uid] for uid in sorted(wire)]}

    # --- figures for the dashboard -----------------------------------------------------

    def local_users(self) -> int:
        """Users with a tab on this instance."""
        return len(self.part)

    async def figures(self) -> dict[str, float]:
        """People online on all instances (each once), as the last merge saw them."""
        users = (await self.state(APP_TOPIC)).users
        return {"online": len(users), "active": sum(u.status == "active" for u in users)}


def _user(topic: str, uid: int, entry: tuple[Any, ...]) -> PresenceUser:
    """A changed user as the event model of ``topic``'s view."""
    user_type = AdminPresenceUser if topic == ADMIN_TOPIC else PresenceUser
    return user_type.model_validate(user_json(uid, entry))
