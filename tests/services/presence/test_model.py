"""services/presence/model.py: parts per instance, their merge, and diffs."""

from __future__ import annotations

import random

from productdemo.realtime.broker import MemoryBroker
from productdemo.realtime.connection import Principal
from productdemo.realtime.history import MemoryHistory
from productdemo.services.presence.model import Merger, Tab, entry_of, merge, part_of, user_json
from productdemo.services.presence.service import PresenceService
from productdemo.services.presence.store import MemoryPresenceStore


def test_a_part_counts_tabs_and_active_tabs_per_user() -> None:
    """Three tabs of one user (one idle) and one of another become two entries."""
    tabs = {"a": Tab(1, "ann"), "b": Tab(1, "ann", active=False), "c": Tab(1, "ann"), "d": Tab(2, "bo")}
    assert part_of(tabs) == {1: ("ann", 3, 2), 2: ("bo", 1, 1)}


def test_merge_is_one_person_per_user_active_if_any_tab_is() -> None:
    """A user on two instances is one entry: tabs summed, active if any tab anywhere is active."""
    public, admin = merge({"b": {1: ("ann", 2, 0)}, "a": {1: ("ann", 1, 1), 2: ("bo", 1, 0)}})
    assert public == {1: ("ann", "active"), 2: ("bo", "idle")}
    assert admin == {1: ("ann", "active", 3, (("a", 1), ("b", 2))), 2: ("bo", "idle", 1, (("a", 1),))}


def test_merger_reports_only_what_changed() -> None:
    """Parts changing on two instances give sorted joins, leaves and updates for each view."""
    merger = Merger()
    merger.update({"a": {1: ("ann", 1, 1), 2: ("bo", 1, 1)}, "b": {3: ("cy", 1, 0)}})
    public, admin = merger.update(
        {"a": {1: ("ann", 1, 1), 2: ("bo", 1, 0), 5: ("ed", 1, 1)}, "b": {1: ("ann", 1, 0), 4: ("di", 1, 1)}}
    )
    assert public == ([4, 5], [3], [2])  # ann's tab on b changes her tabs, not her status
    assert admin == ([4, 5], [3], [1, 2])
    assert merger.public == merge(merger.parts)[0] and merger.admin == merge(merger.parts)[1]


def test_a_part_that_expires_takes_its_users_along() -> None:
    """When an instance's part is gone, users only there leave; users also elsewhere are updated."""
    merger = Merger()
    merger.update({"a": {1: ("ann", 1, 1)}, "b": {1: ("ann", 2, 1), 2: ("bo", 1, 1)}})
    public, admin = merger.update({"a": {1: ("ann", 1, 1)}})
    assert public == ([], [2], [])
    assert admin == ([], [2], [1])
    assert merger.admin[1] == ("ann", "active", 1, (("a", 1),))


def test_a_new_leader_checks_every_user_against_the_stored_views() -> None:
    """After reset, users in the stored views but in no part leave, and the rest join or stay."""
    merger = Merger()
    merger.reset({1: ("ann", "active"), 2: ("bo", "idle")}, {})
    public, _ = merger.update({"a": {2: ("bo", 1, 0), 3: ("cy", 1, 1)}})
    assert public == ([3], [1], [])


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


async def test_the_service_keeps_its_part_as_tabs_come_and_go() -> None:
    """Opening, idling and closing tabs keeps the instance's part equal to a fresh summary."""
    service = PresenceService(MemoryPresenceStore(), MemoryBroker(MemoryHistory(10, 60)), "solo", 15, 0.1)
    people = [Principal(uid, f"user{uid}", "user", f"s{uid}") for uid in (1, 2, 3)]
    rng = random.Random(7)
    open_tabs: list[tuple[Principal, str]] = []
    for n in range(500):
        choice = rng.random()
        if choice < 0.45 or not open_tabs:
            who = rng.choice(people)
            open_tabs.append((who, f"c{n}"))
            await service.connection_opened(who, f"c{n}")
        elif choice < 0.8:
            who, conn = open_tabs.pop(rng.randrange(len(open_tabs)))
            await service.connection_closed(who, conn)
        else:
            service.set_active(rng.choice(open_tabs)[1], rng.random() < 0.5)
        assert service.part == part_of(service.tabs)
