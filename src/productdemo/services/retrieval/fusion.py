"""Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009).

``score(d) = Σ 1 / (k + rank_r(d))`` over the ranked lists ``r`` that hold ``d``, ranks from 1.
It needs no score calibration between BM25 and cosine, which live on unrelated scales, and
``k = 60`` is the paper's constant: it keeps one list's first place from drowning the other.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = 60

T = TypeVar("T", bound=Hashable)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[T]], k: int = K) -> list[tuple[T, float]]:
    """The items of every ranking, by fused score (ties keep first-seen order)."""
    scores: dict[T, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])
