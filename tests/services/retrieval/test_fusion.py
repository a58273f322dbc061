"""services/retrieval/fusion.py: reciprocal rank fusion."""

from __future__ import annotations

import pytest

from productdemo.services.retrieval.fusion import reciprocal_rank_fusion


def test_items_in_both_lists_rise_above_items_in_one() -> None:
    """An item ranked in both lists beats one ranked first in only one; scores are exact."""
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "d"]])
    assert [item for item, _ in fused] == ["c", "a", "b", "d"]  # b and d tie: first seen first
    assert dict(fused)["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert dict(fused)["a"] == pytest.approx(1 / 61)


def test_an_empty_list_leaves_the_other_in_its_order() -> None:
    """Fusing with an empty ranking keeps the other ranking as it was."""
    assert [item for item, _ in reciprocal_rank_fusion([[3, 1, 2], []])] == [3, 1, 2]
