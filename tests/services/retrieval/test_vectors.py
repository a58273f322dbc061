"""services/retrieval/store.py, vectors.py, pgvector.py: nearest neighbours per user and model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import delete

from productdemo.services.retrieval.embedder import Vectors
from productdemo.services.retrieval.store import ChosenStore
from productdemo.services.retrieval.vectors import NumpyVectors
from productdemo.storage.models import Chunk, ChunkVector
from tests.services.retrieval.conftest import database
from tests.services.retrieval.test_search_modes import upload_and_wait
from tests.support import LiveServer, make_config


def _unit(*values: float) -> Vectors:
    vector = np.array(values, np.float32)
    return vector / np.linalg.norm(vector)


async def test_nearest_reads_one_model_and_one_owner_and_sees_changes_at_once(
    tmp_path: Path, vector_db: str
) -> None:
    """Only the store's model and the caller's vectors are compared; new or deleted vectors show at once."""
    live = LiveServer(make_config(tmp_path, **database(vector_db)))
    await live.start()
    try:
        owner, cookie = await live.user_session()
        other, other_cookie = await live.user_session()
        await upload_and_wait(live, cookie, "a.md", b"# A\n\none\n\n# B\n\ntwo\n\n# C\n\nthree\n")
        await upload_and_wait(live, other_cookie, "b.md", b"# D\n\nfour\n")
        store, other_model = ChosenStore("m", 3), ChosenStore("other-model", 3)
        await store.start(live.services.db)
        await other_model.start(live.services.db)
        assert store.kind == ("pgvector" if vector_db else "numpy")
        async with live.services.db() as db:
            ids = [c.id for c in (await db.execute(Chunk.__table__.select().order_by(Chunk.id))).all()]
            await db.execute(delete(ChunkVector))
            await store.write(db, owner, [(ids[0], _unit(1, 0, 0)), (ids[1], _unit(0.6, 0.8, 0))])
            await other_model.write(db, owner, [(ids[1], _unit(1, 0, 0))])
            await store.write(db, other, [(ids[3], _unit(1, 0, 0))])
            await db.commit()
            query = np.array([1, 0, 0], np.float32)
            found = await store.nearest(db, owner, query, 5)
            assert [c for c, _ in found] == [ids[0], ids[1]]
            assert [round(s, 3) for _, s in found] == [1.0, 0.6]
            assert [c for c, _ in await other_model.nearest(db, owner, query, 5)] == [ids[1]]
            await store.write(db, owner, [(ids[2], _unit(0.9, 0.1, 0))])
            await db.execute(delete(ChunkVector).where(ChunkVector.chunk_id == ids[0]))
            await db.commit()
            assert [c for c, _ in await store.nearest(db, owner, query, 5)] == [ids[2], ids[1]]
            assert [c for c, _ in await store.nearest(db, other, query, 5)] == [ids[3]]
    finally:
        await live.stop()


async def test_numpy_cache_is_bounded_by_vectors_in_memory(tmp_path: Path) -> None:
    """The least recently searched users' matrices are dropped once the cache holds too many vectors."""
    live = LiveServer(make_config(tmp_path))
    await live.start()
    try:
        owner, cookie = await live.user_session()
        other, other_cookie = await live.user_session()
        await upload_and_wait(live, cookie, "a.md", b"# A\n\none\n\n# B\n\ntwo\n")
        await upload_and_wait(live, other_cookie, "b.md", b"# D\n\nfour\n")
        index = NumpyVectors("m", 3, max_vectors=2)
        async with live.services.db() as db:
            ids = [c.id for c in (await db.execute(Chunk.__table__.select().order_by(Chunk.id))).all()]
            await db.execute(delete(ChunkVector))
            await index.write(db, owner, [(ids[0], _unit(1, 0, 0)), (ids[1], _unit(0, 1, 0))])
            await index.write(db, other, [(ids[2], _unit(1, 0, 0))])
            await db.commit()
            query = np.array([1, 0, 0], np.float32)
            assert len(await index.nearest(db, owner, query, 5)) == 2
            assert len(await index.nearest(db, other, query, 5)) == 1
            assert list(index._cache) == [other]  # the owner's two vectors and the other's one exceed 2
    finally:
        await live.stop()
