"""Presence as plain data: one instance's part, the merge of all parts, and diffs.

An instance's *part* maps each user with a tab there to ``(username, tabs, active tabs)``.
The merge of every live part is the truth; a part that stops being refreshed expires
(in Redis) and its users leave unless they have tabs elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from productdemo.services.presence.events import AdminPresenceUser, PresenceUser

#: user id -> [username, tabs, active tabs]  (JSON-friendly: it is stored in Redis as is)
Part = dict[int, tuple[str, int, int]]
#: user id -> that user's entry in one view (public or admin)
View = dict[int, PresenceUser]


@dataclass
class Tab:
    user_id: int
    username: str
    active: bool = True


def part_of(tabs: dict[str, Tab]) -> Part:
    """Summarise this instance's tabs per user."""
    part: dict[int, list[Any]] = {}
    for tab in tabs.values():
        entry = part.setdefault(tab.user_id, [tab.username, 0, 0])
        entry[1] += 1
        entry[2] += tab.active
    return {uid: (e[0], e[1], e[2]) for uid, e in part.items()}


def merge(parts: dict[str, Part]) -> tuple[View, View]:
    """The public view (name, status) and the admin view (plus tabs per instance) of all parts."""
    merged: dict[int, dict[str, Any]] = {}
    for instance in sorted(parts):
        for uid, (username, tabs, active) in parts[instance].items():
            user = merged.setdefault(
                uid, {"user_id": uid, "username": username, "status": "idle", "tabs": 0, "instances": {}}
            )
            user["tabs"] += tabs
            user["instances"][instance] = tabs
            if active:
                user["status"] = "active"
    admin = {uid: AdminPresenceUser(**fields) for uid, fields in merged.items()}
    public = {
        uid: PresenceUser(user_id=uid, username=u.username, status=u.status) for uid, u in admin.items()
    }
    return public, dict(admin)


def diff(old: View, new: View) -> tuple[list[PresenceUser], list[int], list[PresenceUser]]:
    """(joins, leaves, updates) that turn ``old`` into ``new``, each sorted by user id."""
    joins = [new[uid] for uid in sorted(new.keys() - old.keys())]
    leaves = sorted(old.keys() - new.keys())
    updates = [new[uid] for uid in sorted(new.keys() & old.keys()) if new[uid] != old[uid]]
    return joins, leaves, updates


def part_to_json(part: Part) -> dict[str, list[Any]]:
    return {str(uid): list(entry) for uid, entry in part.items()}


def part_from_json(data: dict[str, list[Any]]) -> Part:
    return {int(uid): (str(e[0]), int(e[1]), int(e[2])) for uid, e in data.items()}
