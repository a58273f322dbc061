"""services/retrieval/fusion.py: weighted reciprocal rank fusion and relative score fusion."""

from __future__ import annotations

import pytest

from productdemo.services.retrieval.fusion import Fusion, reciprocal_rank_fusion, relative_score_fusion


def test_items_in_both_lists_rise_above_items_in_one() -> None:
    """An item ranked in both lists beats one ranked first in only one; scores are exact."""
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "d"]])
    assert [item for item, _ in fused] == ["c", "a", "b", "d"]  # b and d tie: first seen first
    assert dict(fused)["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert dict(fused)["a"] == pytest.approx(1 / 61)


def test_an_empty_list_leaves_the_other_in_its_order() -> None:
    """Fusing with an empty ranking keeps the other ranking as it was."""
    assert [item for item, _ in reciprocal_rank_fusion([[3, 1, 2], []])] == [3, 1, 2]


def test_relative_score_fusion_averages_min_max_normalised_scores() -> None:
    """Each list is scaled to [0, 1] and the shares averaged; an item missing from a list gets 0 there."""
    fused = relative_score_fusion([[("a", 12.0), ("b", 7.0), ("c", 2.0)], [("c", 0.9), ("d", 0.5)]])
    assert [item for item, _ in fused] == ["a", "c", "b", "d"]  # a and c tie: first seen first
    assert dict(fused) == pytest.approx({"a": 0.5, "b": 0.25, "c": 0.5, "d": 0.0})
    assert relative_score_fusion([[("x", 3.0)], []]) == [("x", 0.5)]


def test_weights_scale_each_rankings_contributions() -> None:
    """A ranking of weight 2 counts twice: its first item beats the other ranking's first."""
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=10, weights=[1.0, 2.0])
    assert dict(fused) == pytest.approx({"a": 1 / 11, "b": 1 / 12 + 2 / 11, "c": 2 / 12})
    assert [item for item, _ in fused] == ["b", "c", "a"]


def test_fusion_fuses_by_its_method() -> None:
    """Fusion() is weighted RRF (k 10, semantic 2); "relative" ranks by normalised scores."""
    lexical, semantic = [("a", 10.0), ("b", 9.9), ("c", 0.0)], [("b", 0.9), ("a", 0.1), ("c", 0.0)]
    assert [item for item, _ in Fusion("relative").fuse(lexical, semantic)] == ["b", "a", "c"]
    assert [item for item, _ in Fusion().fuse(lexical, semantic)] == ["b", "a", "c"]
    assert [item for item, _ in Fusion("rrf", 60, 1.0).fuse(lexical, semantic)] == ["a", "b", "c"]  # a tie
