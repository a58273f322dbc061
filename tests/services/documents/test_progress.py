"""services/documents/progress.py: monotonic, rate-limited, first and last always sent."""

from __future__ import annotations

from productdemo.services.documents.events import DocumentStatusUpdate
from productdemo.services.documents.progress import ProgressReporter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _reporter() -> tuple[ProgressReporter, list[tuple[DocumentStatusUpdate, bool]], Clock]:
    sent: list[tuple[DocumentStatusUpdate, bool]] = []
    clock = Clock()

    async def sink(update: DocumentStatusUpdate, save: bool) -> None:
        sent.append((update, save))

    # Binary fractions keep the clock arithmetic exact.
    return ProgressReporter("d_1", sink, min_interval=0.125, clock=clock), sent, clock


async def test_stage_changes_are_always_sent_and_saved() -> None:
    """Every stage change is published and saved, even in quick succession."""
    reporter, sent, _ = _reporter()
    await reporter.stage_changed("extracting", 5, "Extracting")
    await reporter.stage_changed("chunking", 60, "Chunking")
    assert [(u.stage, u.status, u.progress, save) for u, save in sent] == [
        ("extracting", "processing", 5, True),
        ("chunking", "processing", 60, True),
    ]


async def test_progress_within_a_stage_is_rate_limited() -> None:
    """Steps closer than min_interval to the last event are dropped; the rest go out."""
    reporter, sent, clock = _reporter()
    await reporter.stage_changed("extracting", 5, "Extracting")
    for pct in range(6, 30):
        clock.now += 0.03125
        await reporter.advanced(pct, f"{pct}")
    assert [u.progress for u, _ in sent] == [5, 9, 13, 17, 21, 25, 29]
    assert all(not save for _, save in sent[1:])


async def test_progress_never_goes_backwards() -> None:
    """A lower progress value is ignored, and a later stage cannot lower it either."""
    reporter, sent, clock = _reporter()
    await reporter.stage_changed("extracting", 50, "half")
    clock.now += 1
    await reporter.advanced(40, "lower")
    await reporter.stage_changed("failed", 10, "Processing failed", "boom")
    assert [(u.progress, u.stage) for u, _ in sent] == [(50, "extracting"), (50, "failed")]
    assert sent[-1][0].error == "boom"
