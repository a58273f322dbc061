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


@dataclass(slots=True)  # one per open socket: no __dict__
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
    merger = Merger()
    merger.update(parts)
    return merger.public, merger.admin


class Merger:
    """The merged views, kept up to date by re-merging only the users whose entry changed.

    ``update(parts)`` compares each instance's part with the one it saw last (equal parts
    are skipped at C speed), collects the user ids whose entry differs, recomputes just
    those users from all parts, and returns the diff of each view. Ten thousand users with
    a few dozen changes cost a few milliseconds instead of a full merge.
    """

    def __init__(self) -> None:
        self.parts: dict[str, Part] = {}
        self.public: PublicView = {}
        self.admin: AdminView = {}
        self._everyone = True

    def reset(self, public: PublicView, admin: AdminView) -> None:
        """Start from stored views (a new leader); the next update re-checks every user."""
        self.public, self.admin, self.parts = dict(public), dict(admin), {}
        self._everyone = True

    def update(self, parts: dict[str, Part]) -> tuple[Diff, Diff]:
        """Take the current parts in; returns the (public, admin) diffs."""
        changed: set[int] = set()
        if self._everyone:
            changed.update(self.public, self.admin)
            for part in parts.values():
                changed.update(part)
            self._everyone = False
        else:
            for instance in self.parts.keys() | parts.keys():
                old, new = self.parts.get(instance, {}), parts.get(instance, {})
                if old is not new and old != new:
                    changed.update(uid for uid in old.keys() | new.keys() if old.get(uid) != new.get(uid))
        self.parts = parts
        return self._remerge(changed, self.public, merge_public), self._remerge(
            changed, self.admin, merge_admin
        )

    def _remerge(self, changed: set[int], view: dict[int, Any], entry: Any) -> Diff:
        joins: list[int] = []
        leaves: list[int] = []
        updates: list[int] = []
        instances = sorted(self.parts)
        for uid in sorted(changed):
            found = [(i, self.parts[i][uid]) for i in instances if uid in self.parts[i]]
            old = view.get(uid)
            if not found:
                if old is not None:
                    del view[uid]
                    leaves.append(uid)
                continue
            new = entry(found)
            if old is None:
                joins.append(uid)
            elif old != new:
                updates.append(uid)
            view[uid] = new
        return joins, leaves, updates


#: (joins, leaves, updates): user ids, each sorted
Diff = tuple[list[int], list[int], list[int]]


def merge_public(found: list[tuple[str, tuple[str, int, int]]]) -> tuple[str, str]:
    """One user's public entry from their entries in the parts that have them."""
    return (found[0][1][0], "active" if any(e[2] for _, e in found) else "idle")


def merge_admin(
    found: list[tuple[str, tuple[str, int, int]]],
) -> tuple[str, str, int, tuple[tuple[str, int], ...]]:
    """One user's admin entry: also their tabs, in all and per instance."""
    name, status = merge_public(found)
    return (name, status, sum(e[1] for _, e in found), tuple((i, e[1]) for i, e in found))


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
