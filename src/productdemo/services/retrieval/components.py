"""The retrieval parts a server needs, built from ``[retrieval]``: one place for app.py to call."""

from __future__ import annotations

from dataclasses import dataclass

from productdemo.config import RetrievalSettings
from productdemo.services.retrieval.embedder import shape_of
from productdemo.services.retrieval.fusion import Fusion
from productdemo.services.retrieval.pool import EmbeddingPool
from productdemo.services.retrieval.semantic import SemanticSearch
from productdemo.services.retrieval.stage import EmbeddingStage
from productdemo.services.retrieval.store import ChosenStore


@dataclass(frozen=True)
class Retrieval:
    pool: EmbeddingPool
    stage: EmbeddingStage
    semantic: SemanticSearch
    vectors: ChosenStore
    model_id: str
    candidates: int
    fusion: Fusion

    @classmethod
    def build(cls, settings: RetrievalSettings) -> Retrieval:
        model_id, dim = shape_of(settings.model)
        pool = EmbeddingPool(settings.model, settings.embed_workers, settings.embed_threads)
        vectors = ChosenStore(model_id, dim)  # the database is looked at in start-up: vectors.start()
        return cls(
            pool=pool,
            stage=EmbeddingStage(pool, vectors, dim, settings.batch_size),
            semantic=SemanticSearch(settings.model, vectors, settings.embed_threads),
            vectors=vectors,
            model_id=model_id,
            candidates=settings.candidates,
            fusion=Fusion(settings.fusion, settings.rrf_k, settings.semantic_weight),
        )
