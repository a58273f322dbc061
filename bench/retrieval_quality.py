# ruff: noqa: T201
"""Retrieval quality of lexical, semantic and hybrid search on the Python FAQ (175 questions).

The evaluation set is derived mechanically (``services/retrieval/evaluation.py``) from the
FAQ sources of Debian's ``python3.11-doc`` package (``apt-get install python3.11-doc``). The
script runs the real application in-process on a fresh SQLite database in a temporary
directory, uploads the answers as one Markdown document per FAQ page through the document
service, waits for them to be processed (extraction, chunking, embedding with the configured
model, indexing), then asks every question in every mode through ``DocumentSearch``.

Printed: recall@5, MRR@10 and nDCG@10 per mode, chunks, and the time taken.

Usage (from the repository root):
  .venv/bin/python bench/retrieval_quality.py [--model minilm] [--fusion rrf|relative] [--rrf-k 10]
      [--semantic-weight 2] [--pages library]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from productdemo.app import create_app
from productdemo.config import load_config
from productdemo.services.documents.service import Upload
from productdemo.services.retrieval.evaluation import FAQ_SOURCES, corpus, evaluate, load_questions
from productdemo.storage.database import upgrade

ROOT = Path(__file__).resolve().parent.parent


async def run(model: str, fusion: dict[str, object], pages: list[str] | None) -> None:
    questions = load_questions(FAQ_SOURCES, pages)
    if not questions:
        sys.exit(f"no FAQ questions under {FAQ_SOURCES}: apt-get install python3.11-doc")
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(
            ROOT / "conf" / "config.ini",
            environ={},
            overrides={
                "storage": {"data_dir": tmp},
                "server": {"client_dir": str(Path(tmp) / "none")},
                "retrieval": {"model": model, **fusion},
            },
        )
        await upgrade(config.database_url)
        app = create_app(config)
        services = app.services
        async with app.api.router.lifespan_context(app.api):
            user = await services.users.create("bench", "bench-password-1", "user")
            started = time.perf_counter()
            uploads = [Upload(name, text.encode()) for name, text in corpus(questions).items()]
            docs = await services.documents.upload(user.id, uploads)
            while True:
                states = [await services.documents.get(user.id, d.id) for d in docs]
                if all(s.status in ("completed", "failed") for s in states):
                    break
                await asyncio.sleep(0.2)
            processed = time.perf_counter() - started
            chunks = sum(s.chunk_count for s in states)
            print(f"model={model} fusion={fusion} questions={len(questions)}", end=" ")
            print(f"documents={len(docs)} chunks={chunks}")
            print(f"processing (extract+chunk+embed+index): {processed:.1f} s")
            print(f"{'mode':<10}{'recall@5':>10}{'MRR@10':>10}{'nDCG@10':>10}{'s/query':>10}")
            for mode in ("lexical", "semantic", "hybrid"):
                started = time.perf_counter()
                scores = await evaluate(services.search, user.id, questions, mode)
                per_query = (time.perf_counter() - started) / len(questions)
                print(
                    f"{mode:<10}{scores.recall_5:>10.3f}{scores.mrr_10:>10.3f}"
                    f"{scores.ndcg_10:>10.3f}{per_query:>10.4f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="minilm", choices=["minilm", "hashing"])
    parser.add_argument("--fusion", default="rrf", choices=["rrf", "relative"])
    parser.add_argument("--rrf-k", type=int, default=10)
    parser.add_argument("--semantic-weight", type=float, default=2.0)
    parser.add_argument("--pages", default="", help="comma-separated FAQ pages (default: all)")
    args = parser.parse_args()
    fusion = {"fusion": args.fusion, "rrf_k": args.rrf_k, "semantic_weight": args.semantic_weight}
    asyncio.run(run(args.model, fusion, [p for p in args.pages.split(",") if p] or None))


if __name__ == "__main__":
    main()
