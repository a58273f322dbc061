"""Regression gate on retrieval quality: hybrid beats lexical on a slice of the Python FAQ set.

The full evaluation (all 175 questions, every metric) is ``bench/retrieval_quality.py``;
this runs the library FAQ's questions with the real model through the real server.
"""

from __future__ import annotations

from productdemo.services.retrieval.evaluation import FAQ_SOURCES, corpus, evaluate, load_questions
from tests.conftest import skip_or_fail
from tests.services.retrieval.test_search_modes import upload_and_wait
from tests.support import StartServer


async def test_hybrid_beats_lexical_on_the_library_faq(start_server: StartServer) -> None:
    """On the library FAQ's 27 questions, hybrid search beats lexical on recall@5, MRR@10 and nDCG@10."""
    questions = load_questions(FAQ_SOURCES, ["library"])
    if not questions:
        skip_or_fail(f"no Python FAQ sources in {FAQ_SOURCES} (apt-get install python3.11-doc)")
    assert len(questions) > 20
    server = await start_server(retrieval={"model": "minilm"})
    owner, cookie = await server.user_session()
    for name, text in corpus(questions).items():
        await upload_and_wait(server, cookie, name, text.encode())
    lexical = await evaluate(server.services.search, owner, questions, "lexical")
    hybrid = await evaluate(server.services.search, owner, questions, "hybrid")
    # Measured: recall@5 0.963 vs 0.815, MRR@10 0.825 vs 0.687, nDCG@10 0.868 vs 0.734.
    assert hybrid.recall_5 > lexical.recall_5 + 0.05, (hybrid, lexical)
    assert hybrid.mrr_10 > lexical.mrr_10 + 0.02, (hybrid, lexical)
    assert hybrid.ndcg_10 > lexical.ndcg_10 + 0.02, (hybrid, lexical)
