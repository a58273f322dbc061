"""Presence as plain data: one instance's part, the merge of all parts, and diffs.

An instance's *part* maps each user with a tab there to ``(username, tabs, active tabs)``.
The merge of every live part is the truth; a part that stops being refreshed expires
(in Redis) and its users leave unless they have tabs elsewhere.

Views are plain tuples, not models: the leader merges and diffs ten thousand users every
tick, and only the few that changed become event models (``user_json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: user id -> (username, tabs, active tabs)  (stored in Redis as JSON)
Part = dict[int, tuple[str, int, int]]
#: user id -> (username, status)
PublicView = dict[int, tuple[str, str]]
#: user id -> (username, status, tabs, ((instance, tabs), ...) sorted by instance)
AdminView = dict[int, tuple[str, str, int, tuple[tuple[str, int], ...]]]


@dataclass
class Tab:
    user_id: int
    username: str
    active: bool = True


def part_of(tabs: dict[str, Tab]) -> Part:
    """Summarise this instance's tabs per user."""
    part: dict[int, list[Any]] = {}
    for tab in tabs.values():
        entry = part.get(tab.user_id)
        if entry is None:
            entry = part[tab.user_id] = [tab.username, 0, 0]
        entry[1] += 1
        entry[2] += tab.active
    return {uid: (e[0], e[1], e[2]) for uid, e in part.items()}


def merge(parts: dict[str, Part]) -> tuple[PublicView, AdminView]:
    """The public view (name, status) and the admin view (plus tabs per instance) of all parts."""
    merged: dict[int, list[Any]] = {}
    for instance in sorted(parts):
        for uid, (username, tabs, active) in parts[instance].items():
            entry = merged.get(uid)
            if entry is None:
                entry = merged[uid] = [username, False, 0, []]
            entry[1] = entry[1] or active > 0
            entry[2] += tabs
            entry[3].append((instance, tabs))
    public: PublicView = {uid: (e[0], "active" if e[1] else "idle") for uid, e in merged.items()}
    admin: AdminView = {uid: (e[0], public[uid][1], e[2], tuple(e[3])) for uid, e in merged.items()}
    return public, admin


def diff(old: dict[int, Any], new: dict[int, Any]) -> tuple[list[int], list[int], list[int]]:
    """User ids (joins, leaves, updates) that turn ``old`` into ``new``, each sorted."""
    joins = sorted(new.keys() - old.keys())
    leaves = sorted(old.keys() - new.keys())
    updates = sorted(uid for uid in new.keys() & old.keys() if new[uid] != old[uid])
    return joins, leaves, updates


def user_json(uid: int, entry: tuple[Any, ...]) -> dict[str, Any]:
    """One user of a view in wire form (camelCase), public or admin by the entry's shape."""
    user: dict[str, Any] = {"userId": uid, "username": entry[0], "status": entry[1]}
    if len(entry) == 4:
        user["tabs"] = entry[2]
        user["instances"] = dict(entry[3])
    return user


def entry_of(user: dict[str, Any]) -> tuple[Any, ...]:
    """The view entry of a user in wire form (the inverse of :func:`user_json`)."""
    if "tabs" not in user:
        return (user["username"], user["status"])
    instances = tuple(sorted((str(k), int(v)) for k, v in user["instances"].items()))
    return (user["username"], user["status"], int(user["tabs"]), instances)


def part_to_json(part: Part) -> dict[str, list[Any]]:
    return {str(uid): list(entry) for uid, entry in part.items()}


def part_from_json(data: dict[str, list[Any]]) -> Part:
    return {int(uid): (str(e[0]), int(e[1]), int(e[2])) for uid, e in data.items()}
