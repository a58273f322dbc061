"""Retrieval quality: an evaluation set derived mechanically from the Python FAQ, and metrics.

The set comes from the reStructuredText sources of the Python FAQ that Debian's
``python3.11-doc`` package installs (``/usr/share/doc/python3.11/html/_sources/faq/``).
Every section heading that ends with "?" is a query; the section's body is its one relevant
answer. The corpus is every answer body under a neutral heading (``# Q17``), so the question
text itself is nowhere in the documents and no method is flattered by copying it: retrieved
chunks are mapped to answers by their section. Nothing here is chosen by hand.

Metrics over the ranked list of distinct answers (a chunk's answer counts at its first rank):
recall@5 (the answer is in the top 5), MRR@10 and nDCG@10 (one relevant item, gain 1).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from productdemo.services.documents.lexical import RetrievedChunk
    from productdemo.services.documents.search import Match, Mode

FAQ_SOURCES = Path("/usr/share/doc/python3.11/html/_sources/faq")
_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_ROLE = re.compile(r":[\w:]+:`([^`<]*?)(?:\s*<[^>]*>)?`")


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answer: str
    page: str


def _plain(line: str) -> str:
    """A heading without reST roles and literals: ``:func:`repr``` -> ``repr``."""
    return _ROLE.sub(r"\1", line).replace("``", "").strip()


def parse_faq(source: str) -> list[tuple[str, str]]:
    """(question, answer body) for every heading of ``source`` that ends with "?"."""
    lines = source.splitlines()
    heads = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip()
        and _UNDERLINE.match(lines[i + 1])
        and len(lines[i + 1].strip()) >= len(lines[i].strip())
    ]
    pairs = []
    for n, head in enumerate(heads):
        question = _plain(lines[head])
        if not question.endswith("?"):
            continue
        end = heads[n + 1] if n + 1 < len(heads) else len(lines)
        body = "\n".join(lines[head + 2 : end]).strip()
        if body:
            pairs.append((question, body))
    return pairs


def load_questions(directory: Path = FAQ_SOURCES, pages: Sequence[str] | None = None) -> list[Question]:
    """Every question of the FAQ pages in ``directory`` (all pages, or those named), in order."""
    questions: list[Question] = []
    for path in sorted(directory.glob("*.rst.txt")):
        page = path.name.removesuffix(".rst.txt")
        if pages is not None and page not in pages:
            continue
        for question, answer in parse_faq(path.read_text(encoding="utf-8")):
            questions.append(Question(f"Q{len(questions) + 1}", question, answer, page))
    return questions


def corpus(questions: Sequence[Question]) -> dict[str, str]:
    """One Markdown document per FAQ page: each answer under its neutral ``# Q<n>`` heading."""
    documents: dict[str, list[str]] = {}
    for q in questions:
        documents.setdefault(f"faq-{q.page}.md", []).append(f"# {q.id}\n\n{q.answer}\n")
    return {name: "\n".join(parts) for name, parts in documents.items()}


def distinct(sections: Sequence[str | None]) -> list[str | None]:
    """Answers in rank order, each at its first chunk."""
    return list(dict.fromkeys(sections))


def recall_at(ranked: Sequence[str | None], relevant: str, k: int) -> float:
    return 1.0 if relevant in ranked[:k] else 0.0


def reciprocal_rank_at(ranked: Sequence[str | None], relevant: str, k: int) -> float:
    return 1.0 / (ranked.index(relevant) + 1) if relevant in ranked[:k] else 0.0


def ndcg_at(ranked: Sequence[str | None], relevant: str, k: int) -> float:
    # One relevant answer: the ideal DCG is 1, so nDCG is the discounted gain at its rank.
    return 1.0 / math.log2(ranked.index(relevant) + 2) if relevant in ranked[:k] else 0.0


@dataclass(frozen=True)
class Scores:
    recall_5: float
    mrr_10: float
    ndcg_10: float

    @classmethod
    def of(cls, runs: Sequence[tuple[Sequence[str | None], str]]) -> Scores:
        """Mean metrics over (ranked answers, relevant answer) pairs."""
        n = max(len(runs), 1)
        return cls(
            recall_5=sum(recall_at(r, rel, 5) for r, rel in runs) / n,
            mrr_10=sum(reciprocal_rank_at(r, rel, 10) for r, rel in runs) / n,
            ndcg_10=sum(ndcg_at(r, rel, 10) for r, rel in runs) / n,
        )


class Retriever(Protocol):
    async def retrieve(
        self, owner_id: int, query: str, mode: Mode, limit: int
    ) -> list[tuple[RetrievedChunk, float, Match]]: ...


async def evaluate(search: Retriever, owner_id: int, questions: Sequence[Question], mode: Mode) -> Scores:
    """Scores of ``mode`` over ``questions``, whose corpus the owner has uploaded and processed."""
    runs = []
    for q in questions:
        # Thirty chunks are enough for ten distinct answers: answers are a few chunks long.
        hits = await search.retrieve(owner_id, q.text, mode, 30)
        runs.append((distinct([chunk.section for chunk, _, _ in hits]), q.id))
    return Scores.of(runs)
