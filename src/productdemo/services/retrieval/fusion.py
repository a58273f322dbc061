"""Fusing the lexical and the vector ranking into one list.

Two methods; the default was chosen by measurement (docs/search.md, "Fusion"):

- **weighted reciprocal rank fusion** (``rrf``, the default; Cormack, Clarke and Büttcher,
  SIGIR 2009): ``score(d) = Σ w_r / (k + rank_r(d))`` over the lists ``r`` that hold ``d``,
  ranks from 1. With the paper's ``k = 60`` and equal weights it scored below semantic search
  alone on the Python FAQ set: a large ``k`` flattens the top of both lists, and the lexical
  list, the weaker one here, gets as much say as the semantic one. ``k = 10`` with the
  semantic list weighted 2 scored at or above the better single method on every metric, on
  the whole set and on each half of it.
- **relative score fusion** (``relative``): each list's scores are min-max normalised to
  [0, 1] over its candidates and the normalised scores are averaged, a chunk missing from a
  list counting 0 there. It keeps how much better the first hit is than the tenth.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

#: The paper's constant, kept as the function's default; the search uses ``Fusion.k``.
K = 60

T = TypeVar("T", bound=Hashable)
FusionMethod = Literal["rrf", "relative"]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[T]], k: int = K, weights: Sequence[float] | None = None
) -> list[tuple[T, float]]:
    """The items of every ranking, by fused score (ties keep first-seen order).

    ``weights`` (one per ranking, 1 each by default) scale each ranking's contributions.
    """
    scores: dict[T, float] = {}
    for n, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[n]
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
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


@dataclass(frozen=True)
class Fusion:
    """How hybrid search fuses its two lists: ``[retrieval] fusion, rrf_k, semantic_weight``."""

    method: FusionMethod = "rrf"
    k: int = 10
    semantic_weight: float = 2.0

    def fuse(
        self, lexical: Sequence[tuple[T, float]], semantic: Sequence[tuple[T, float]]
    ) -> list[tuple[T, float]]:
        """The two scored lists (best first) as one ranking."""
        if self.method == "rrf":
            rankings = [[item for item, _ in lexical], [item for item, _ in semantic]]
            return reciprocal_rank_fusion(rankings, self.k, (1.0, self.semantic_weight))
        return relative_score_fusion([lexical, semantic])
