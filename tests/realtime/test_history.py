"""realtime/history.py: positions, bounded history and replay."""

from __future__ import annotations

from productdemo.realtime.history import MemoryHistory, Position


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fill(history: MemoryHistory, stream: str, n: int) -> None:
    for _ in range(n):
        history.append(stream, lambda seq: f"m{seq}".encode())


def test_seq_rises_by_one_per_stream() -> None:
    """Each stream counts its own seq from 1."""
    h = MemoryHistory(10, 0)
    assert h.append("a", lambda s: b"x")[0] == 1
    assert h.append("a", lambda s: b"x")[0] == 2
    assert h.append("b", lambda s: b"x")[0] == 1


def test_replay_returns_what_was_missed_in_order() -> None:
    """Replay after seq 3 returns frames 4..6."""
    h = MemoryHistory(10, 0)
    _fill(h, "s", 6)
    epoch = h.position_now("s").epoch
    replay = h.replay_now("s", Position(epoch, 3))
    assert (replay.frames, replay.resync, replay.position.seq) == ([b"m4", b"m5", b"m6"], False, 6)


def test_replay_up_to_date_is_empty() -> None:
    """A client at the head gets nothing and no resync."""
    h = MemoryHistory(10, 0)
    _fill(h, "s", 2)
    replay = h.replay_now("s", h.position_now("s"))
    assert (replay.frames, replay.resync) == ([], False)


def test_other_epoch_needs_resync() -> None:
    """A position from another epoch cannot be replayed."""
    h = MemoryHistory(10, 0)
    _fill(h, "s", 2)
    assert h.replay_now("s", Position("old", 1)).resync


def test_position_ahead_of_the_stream_needs_resync() -> None:
    """A seq beyond the stream's head (e.g. from a lost history) needs resync."""
    h = MemoryHistory(10, 0)
    _fill(h, "s", 2)
    assert h.replay_now("s", Position(h.position_now("s").epoch, 5)).resync


def test_history_bounded_by_count() -> None:
    """Only the last ``size`` frames are kept; older positions need resync."""
    h = MemoryHistory(3, 0)
    _fill(h, "s", 10)
    epoch = h.position_now("s").epoch
    assert h.replay_now("s", Position(epoch, 6)).resync
    assert h.replay_now("s", Position(epoch, 7)).frames == [b"m8", b"m9", b"m10"]


def test_history_bounded_by_age() -> None:
    """Frames older than ``ttl`` are dropped before replay."""
    clock = Clock()
    h = MemoryHistory(100, ttl=10, clock=clock)
    _fill(h, "s", 2)
    clock.now = 5
    _fill(h, "s", 1)
    clock.now = 12
    epoch = h.position_now("s").epoch
    assert h.replay_now("s", Position(epoch, 2)).frames == [b"m3"]
    assert h.replay_now("s", Position(epoch, 1)).resync


def test_new_history_has_a_new_epoch() -> None:
    """A new store (a restart) gives streams a different epoch."""
    assert MemoryHistory(1, 0).position_now("s").epoch != MemoryHistory(1, 0).position_now("s").epoch


def test_history_off_still_counts() -> None:
    """With size 0 seqs still rise, and any gap needs resync."""
    h = MemoryHistory(0, 0)
    _fill(h, "s", 3)
    pos = h.position_now("s")
    assert pos.seq == 3
    assert h.replay_now("s", Position(pos.epoch, 1)).resync
