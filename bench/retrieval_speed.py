# ruff: noqa: T201
"""Speed of semantic retrieval: embedding throughput, model memory, index size, query latency.

1. **Embedding**: all-MiniLM-L6-v2 int8 on one onnxruntime thread (one core) embeds real
   ~1,000-character chunks of the Python FAQ (``python3.11-doc``) in batches of 16 for
   ``--seconds``: chunks per second per core. Memory: the process's RSS before loading the
   model and after the first batches.
2. **Query latency** at 10k and 100k chunks of one user, through ``DocumentSearch.retrieve``
   in the real application on SQLite (the default): query embedding + BM25 top-50 + vector
   top-50 + fusion + fetching the chunks. The chunks are rows of real FAQ sentences, shuffled
   and recombined; their vectors are random unit vectors (exact search costs the same whatever
   the vectors hold, and embedding 100k chunks would take hours on this machine). Queries are
   the FAQ's questions. The first query of a user loads their matrix (reported as "cold").
3. **Index size per chunk**: the growth of the SQLite file per chunk vector stored.

Usage (from the repository root):
  .venv/bin/python bench/retrieval_speed.py [--seconds 20] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text

from productdemo.app import create_app
from productdemo.config import load_config
from productdemo.services.documents import ExtractedPart, chunk_parts
from productdemo.services.retrieval.embedder import MiniLmEmbedder
from productdemo.services.retrieval.evaluation import FAQ_SOURCES, load_questions
from productdemo.storage.database import upgrade
from productdemo.storage.models import Chunk, ChunkVector, Document

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def faq_chunks() -> list[str]:
    questions = load_questions(FAQ_SOURCES)
    parts = [ExtractedPart(q.answer, None, None) for q in questions]
    return [c.text for c in chunk_parts(parts)]


def embedding_speed(seconds: float) -> None:
    texts = faq_chunks()
    before = rss_mb()
    started = time.perf_counter()
    embedder = MiniLmEmbedder(threads=1)
    loaded = time.perf_counter() - started
    done, cpu0, started = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - started < seconds:
        batch = texts[done % len(texts) :][:16] or texts[:16]
        embedder.embed(batch)
        done += len(batch)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    print(f"model load {loaded:.2f} s; RSS {before:.0f} MB before, {rss_mb():.0f} MB after embedding")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"embedded {done} chunks (mean {statistics.mean(len(t) for t in texts):.0f} chars) in {wall:.1f} s")
    print(f"  {done / wall:.1f} chunks/s wall, {done / cpu:.1f} chunks per CPU-second (1 thread)")


async def query_latency(sizes: list[int]) -> None:
    questions = [q.text for q in load_questions(FAQ_SOURCES)]
    sentences = [s.strip() for t in faq_chunks() for s in t.split(". ") if len(s.strip()) > 20]
    rng = random.Random(7)
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config(
                ROOT / "conf" / "config.ini",
                environ={},
                overrides={"storage": {"data_dir": tmp}, "server": {"client_dir": str(Path(tmp) / "none")}},
            )
            await upgrade(config.database_url)
            app = create_app(config)
            services = app.services
            async with app.api.router.lifespan_context(app.api):
                user = await services.users.create("bench", "bench-password-1", "user")
                db_file = Path(tmp) / "productdemo.db"
                started = time.perf_counter()
                await fill(services.db, user.id, size, sentences, rng)
                filled = time.perf_counter() - started
                vector_bytes = await vectors_size(services.db, db_file, user.id, size)
                cold_started = time.perf_counter()
                await services.search.retrieve(user.id, questions[0], "hybrid", 10)
                cold = time.perf_counter() - cold_started
                print(
                    f"{size} chunks: filled in {filled:.0f} s; vector index {vector_bytes:.0f} bytes/chunk; "
                    f"cold first query {cold * 1000:.0f} ms"
                )
                for mode in ("lexical", "semantic", "hybrid"):
                    timings = []
                    for question in questions:
                        began = time.perf_counter()
                        await services.search.retrieve(user.id, question, mode, 10)
                        timings.append((time.perf_counter() - began) * 1000)
                    timings.sort()
                    p50 = timings[len(timings) // 2]
                    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
                    print(f"  {mode:<9} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  ({len(timings)} queries)")


async def fill(db: object, owner_id: int, size: int, sentences: list[str], rng: random.Random) -> None:
    now = datetime.now(UTC)
    async with db() as session:  # type: ignore[operator]
        per_doc = 1000
        for start in range(0, size, per_doc):
            doc_id = f"d_bench{start:08d}"
            session.add(
                Document(
                    id=doc_id,
                    owner_id=owner_id,
                    filename=f"bench-{start}.md",
                    kind="md",
                    encoding=None,
                    size=0,
                    sha256="0" * 64,
                    status="completed",
                    stage="completed",
                    progress=100,
                    message="",
                    error=None,
                    chunk_count=per_doc,
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()
            rows = []
            for idx in range(per_doc):
                body = ". ".join(rng.sample(sentences, 6))[:1000]
                rows.append(
                    {
                        "document_id": doc_id,
                        "idx": idx,
                        "text": body,
                        "page": None,
                        "section": None,
                        "char_start": 0,
                        "char_end": len(body),
                    }
                )
            await session.execute(insert(Chunk), rows)
        await session.commit()


async def vectors_size(db: object, db_file: Path, owner_id: int, size: int) -> float:
    async with db() as session:  # type: ignore[operator]
        ids = (await session.execute(text("SELECT id FROM chunks ORDER BY id"))).scalars().all()
        await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        before = db_file.stat().st_size
        generator = np.random.default_rng(7)
        for start in range(0, len(ids), 5000):
            batch = ids[start : start + 5000]
            vectors = generator.standard_normal((len(batch), 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            await session.execute(
                insert(ChunkVector),
                [
                    {
                        "chunk_id": c,
                        "owner_id": owner_id,
                        "model_id": MiniLmEmbedder.model_id,
                        "dim": 384,
                        "vector": v.tobytes(),
                    }
                    for c, v in zip(batch, vectors, strict=True)
                ],
            )
        await session.commit()
        await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return (db_file.stat().st_size - before) / size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    embedding_speed(args.seconds)
    asyncio.run(query_latency([int(s) for s in args.sizes.split(",") if s]))


if __name__ == "__main__":
    main()
