"""services/retrieval/evaluation.py: deriving questions from FAQ sources, and the metrics."""

from __future__ import annotations

import pytest

from productdemo.services.retrieval.evaluation import Scores, corpus, distinct, parse_faq

SOURCE = """\
=============
A sample FAQ
=============

General
=======

How do I use :func:`repr`?
--------------------------

Call it on any object.

A statement, not a question
---------------------------

Ignored.

Why ``None``?
-------------

Because.
"""


def test_questions_are_headings_ending_with_a_question_mark_without_markup() -> None:
    """Each "?" heading becomes a question with its section body; roles and literals are unwrapped."""
    assert parse_faq(SOURCE) == [
        ("How do I use repr?", "Call it on any object."),
        ("Why None?", "Because."),
    ]


def test_corpus_hides_the_questions_behind_neutral_headings() -> None:
    """The documents hold the answers under Q<n> headings, never the question text."""
    from productdemo.services.retrieval.evaluation import Question

    docs = corpus([Question("Q1", "How do I use repr?", "Call it.", "sample")])
    assert docs == {"faq-sample.md": "# Q1\n\nCall it.\n"}


def test_metrics_count_each_answer_at_its_first_chunk() -> None:
    """recall@5, MRR@10 and nDCG@10 over distinct answers, averaged over the queries."""
    ranked = distinct(["Q9", "Q9", "Q2", "Q1"])
    assert ranked == ["Q9", "Q2", "Q1"]
    scores = Scores.of([(ranked, "Q1"), (ranked, "Q7")])
    assert scores.recall_5 == 0.5
    assert scores.mrr_10 == pytest.approx((1 / 3) / 2)
    assert scores.ndcg_10 == pytest.approx((1 / 2) / 2)
