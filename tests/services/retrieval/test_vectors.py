"""services/retrieval/vectors.py: exact nearest neighbours per user and model, cached and refreshed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert

from productdemo.services.retrieval.vectors import VectorIndex
from productdemo.storage.models import Chunk, ChunkVector
from tests.services.retrieval.test_search_modes import upload_and_wait
from tests.support import LiveServer, make_config


def _unit(*values: float) -> bytes:
    vector = np.array(values, np.float32)
    return (vector / np.linalg.norm(vector)).tobytes()


async def test_nearest_reads_one_model_refreshes_on_change_and_evicts_by_size(tmp_path: Path) -> None:
    """Only the index's model is compared; new or deleted vectors show at once; the cache stays bounded."""
    live = LiveServer(make_config(tmp_path))
    await live.start()
    try:
        owner, cookie = await live.user_session()
        other, other_cookie = await live.user_session()
        await upload_and_wait(live, cookie, "a.md", b"# A\n\none\n\n# B\n\ntwo\n\n# C\n\nthree\n")
        await upload_and_wait(live, other_cookie, "b.md", b"# D\n\nfour\n")
        async with live.services.db() as db:
            ids = [c.id for c in (await db.execute(Chunk.__table__.select().order_by(Chunk.id))).all()]
            await db.execute(delete(ChunkVector))
            rows = [
                (ids[0], owner, "m", _unit(1, 0, 0)),
                (ids[1], owner, "m", _unit(0.6, 0.8, 0)),
                (ids[1], owner, "other-model", _unit(1, 0, 0)),
                (ids[3], other, "m", _unit(1, 0, 0)),
            ]
            await db.execute(
                insert(ChunkVector),
                [{"chunk_id": c, "owner_id": o, "model_id": m, "dim": 3, "vector": v} for c, o, m, v in rows],
            )
            await db.commit()
            index = VectorIndex("m", 3, max_vectors=2)
            query = np.array([1, 0, 0], np.float32)
            found = await index.nearest(db, owner, query, 5)
            assert [c for c, _ in found] == [ids[0], ids[1]]
            assert [round(s, 3) for _, s in found] == [1.0, 0.6]
            await db.execute(
                insert(ChunkVector),
                [
                    {
                        "chunk_id": ids[2],
                        "owner_id": owner,
                        "model_id": "m",
                        "dim": 3,
                        "vector": _unit(0.9, 0.1, 0),
                    }
                ],
            )
            await db.execute(delete(ChunkVector).where(ChunkVector.chunk_id == ids[0]))
            await db.commit()
            assert [c for c, _ in await index.nearest(db, owner, query, 5)] == [ids[2], ids[1]]
            assert [c for c, _ in await index.nearest(db, other, query, 5)] == [ids[3]]
            assert list(index._cache) == [other]  # the owner's two vectors and the other's one exceed 2
    finally:
        await live.stop()
