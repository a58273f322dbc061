"""services/presence/model.py: parts per instance, their merge, and diffs."""

from __future__ import annotations

from productdemo.services.presence.model import Tab, diff, entry_of, merge, part_of, user_json


def test_a_part_counts_tabs_and_active_tabs_per_user() -> None:
    """Three tabs of one user (one idle) and one of another become two entries."""
    tabs = {"a": Tab(1, "ann"), "b": Tab(1, "ann", active=False), "c": Tab(1, "ann"), "d": Tab(2, "bo")}
    assert part_of(tabs) == {1: ("ann", 3, 2), 2: ("bo", 1, 1)}


def test_merge_is_one_person_per_user_active_if_any_tab_is() -> None:
    """A user on two instances is one entry: tabs summed, active if any tab anywhere is active."""
    public, admin = merge({"b": {1: ("ann", 2, 0)}, "a": {1: ("ann", 1, 1), 2: ("bo", 1, 0)}})
    assert public == {1: ("ann", "active"), 2: ("bo", "idle")}
    assert admin == {1: ("ann", "active", 3, (("a", 1), ("b", 2))), 2: ("bo", "idle", 1, (("a", 1),))}


def test_diff_names_joins_leaves_and_updates() -> None:
    """Diffing two views gives sorted ids of who joined, left and changed."""
    old = {1: ("ann", "active"), 2: ("bo", "active"), 3: ("cy", "idle")}
    new = {2: ("bo", "idle"), 3: ("cy", "idle"), 5: ("ed", "active"), 4: ("di", "active")}
    assert diff(old, new) == ([4, 5], [1], [2])


def test_wire_form_round_trips() -> None:
    """An admin entry and a public entry survive the wire form (the stored snapshot)."""
    admin = ("ann", "idle", 3, (("a", 1), ("b", 2)))
    assert user_json(1, admin) == {
        "userId": 1,
        "username": "ann",
        "status": "idle",
        "tabs": 3,
        "instances": {"a": 1, "b": 2},
    }
    assert entry_of(user_json(1, admin)) == admin
    assert entry_of(user_json(1, ("ann", "active"))) == ("ann", "active")
