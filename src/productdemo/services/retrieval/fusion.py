"""Fusing the lexical and the vector ranking into one list.

Two methods, both without tuned weights; the default was chosen by measurement
(docs/performance.md, Python FAQ set: relative score fusion beat both single methods on every
metric, reciprocal rank fusion fell between them):

- **relative score fusion** (``relative``): each list's scores are min-max normalised to
  [0, 1] over its candidates and the normalised scores are averaged, a chunk missing from a
  list counting 0 there. It keeps how much better the first hit is than the tenth, which
  rank fusion throws away.
- **reciprocal rank fusion** (``rrf``, Cormack, Clarke and Büttcher, SIGIR 2009):
  ``score(d) = Σ 1 / (k + rank_r(d))`` over the lists ``r`` that hold ``d``, ranks from 1;
  ``k = 60`` is the paper's constant.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal, TypeVar

K = 60

T = TypeVar("T", bound=Hashable)
Fusion = Literal["relative", "rrf"]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[T]], k: int = K) -> list[tuple[T, float]]:
    """The items of every ranking, by fused score (ties keep first-seen order)."""
    scores: dict[T, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def relative_score_fusion(scored: Sequence[Sequence[tuple[T, float]]]) -> list[tuple[T, float]]:
    """The items of every scored list, by mean min-max-normalised score (ties: first seen first)."""
    fused: dict[T, float] = {}
    for items in scored:
        if not items:
            continue
        values = [score for _, score in items]
        low, span = min(values), max(values) - min(values)
        for item, score in items:
            # A list whose scores are all equal ranks them all first.
            share = (score - low) / span if span > 0 else 1.0
            fused[item] = fused.get(item, 0.0) + share / len(scored)
    return sorted(fused.items(), key=lambda pair: -pair[1])


def fuse(method: Fusion, scored: Sequence[Sequence[tuple[T, float]]]) -> list[tuple[T, float]]:
    """``scored`` lists (best first) fused by ``method``."""
    if method == "rrf":
        return reciprocal_rank_fusion([[item for item, _ in items] for items in scored])
    return relative_score_fusion(scored)
