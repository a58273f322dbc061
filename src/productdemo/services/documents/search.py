"""Search over the caller's chunks: hits for the search page, passages for answering questions.

Three modes: ``lexical`` (BM25 over the query's words), ``semantic`` (nearest vectors of the
configured embedding model) and ``hybrid`` (the default): both lists, ``candidates`` long,
fused by weighted reciprocal rank or relative score (``services/retrieval/fusion.py``). Each hit says
why it matched: ``words``, ``meaning`` or ``both``.
Snippets come back as plain text plus highlight ranges (character offsets), so the client
renders matches with ``<mark>`` elements and never has to trust markup from the server.
"""

from __future__ import annotations

import re
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.realtime.protocol import CamelModel
from productdemo.services.documents.lexical import (
    START,
    STOP,
    RetrievedChunk,
    chunks_by_id,
    lexical_ranking,
    query_terms,
    snippets,
)
from productdemo.services.retrieval.fusion import Fusion
from productdemo.services.retrieval.semantic import SemanticSearch

Mode = Literal["hybrid", "lexical", "semantic"]
Match = Literal["words", "meaning", "both"]
#: Characters of a chunk shown when it matched by meaning alone (no word to centre on).
LEAD = 240


class SearchHit(CamelModel):
    """One matching chunk; ``highlights`` are [start, end) offsets into ``snippet``."""

    document_id: str
    filename: str
    chunk_index: int
    page: int | None
    section: str | None
    snippet: str
    highlights: list[tuple[int, int]]
    score: float
    matched: Match


def split_highlights(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """Remove the markers from ``marked``; returns the text and the highlighted ranges."""
    out: list[str] = []
    ranges: list[tuple[int, int]] = []
    length = 0
    start: int | None = None
    for piece in re.split(f"([{START}{STOP}])", marked):
        if piece == START:
            start = length
        elif piece == STOP:
            if start is not None and length > start:
                ranges.append((start, length))
            start = None
        else:
            out.append(piece)
            length += len(piece)
    return "".join(out), ranges


def _lead(text: str) -> str:
    if len(text) <= LEAD:
        return text
    cut = text.rfind(" ", 0, LEAD)
    return text[: cut if cut > 0 else LEAD] + "…"


class DocumentSearch:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        dialect: str,
        semantic: SemanticSearch | None = None,
        candidates: int = 50,
        fusion: Fusion | None = None,
    ) -> None:
        self._db = db
        self._dialect = dialect
        self._semantic = semantic
        self._candidates = candidates
        self._fusion = fusion or Fusion()

    @property
    def vector_store(self) -> str | None:
        """What semantic search reads: ``numpy`` or ``pgvector`` (chosen at start-up)."""
        return self._semantic.vectors.kind if self._semantic is not None else None

    async def retrieve(
        self, owner_id: int, query: str, mode: Mode, limit: int
    ) -> list[tuple[RetrievedChunk, float, Match]]:
        """The owner's best ``limit`` chunks for ``query``: (chunk, score, why it matched).

        Raises:
            BadRequest: the query is empty, too long, or has no words.
        """
        terms = query_terms(query)
        wanted = max(limit, self._candidates) if mode == "hybrid" else limit
        async with self._db() as db:
            lexical = (
                []
                if mode == "semantic"
                else await lexical_ranking(db, self._dialect, owner_id, terms, wanted)
            )
            nearest: list[tuple[int, float]] = []
            if mode != "lexical" and self._semantic is not None:
                nearest = await self._semantic.nearest(db, owner_id, query, wanted)
            by_words, by_meaning = dict(lexical), dict(nearest)
            if mode == "hybrid":
                ranked = self._fusion.fuse(lexical, nearest)[:limit]
            else:
                ranked = lexical if mode == "lexical" else nearest
            ids = [c for c, _ in ranked]
            found = await chunks_by_id(db, owner_id, ids)
            marked = await snippets(db, self._dialect, terms, [c for c in ids if c in by_words])
        results = []
        for chunk_id, score in ranked:
            if chunk_id not in found:
                continue  # deleted since it was ranked
            matched: Match = (
                "both"
                if chunk_id in by_words and chunk_id in by_meaning
                else "words"
                if chunk_id in by_words
                else "meaning"
            )
            results.append((found[chunk_id].scored(score, marked.get(chunk_id, "")), score, matched))
        return results

    async def search(
        self, owner_id: int, query: str, mode: Mode = "hybrid", limit: int = 20
    ) -> list[SearchHit]:
        """Ranked chunks of the owner's documents, with snippets and the words that matched.

        Raises:
            BadRequest: the query is empty, too long, or has no words.
        """
        hits = []
        for chunk, score, matched in await self.retrieve(owner_id, query, mode, limit):
            snippet, ranges = split_highlights(chunk.snippet) if chunk.snippet else (_lead(chunk.text), [])
            hits.append(
                SearchHit(
                    document_id=chunk.document_id,
                    filename=chunk.filename,
                    chunk_index=chunk.chunk_index,
                    page=chunk.page,
                    section=chunk.section,
                    snippet=snippet,
                    highlights=ranges,
                    score=score,
                    matched=matched,
                )
            )
        return hits

    async def passages(self, owner_id: int, query: str, limit: int = 8) -> list[RetrievedChunk]:
        """The owner's chunks that best answer ``query`` (hybrid retrieval), whole, best first.

        Raises:
            BadRequest: the query is empty, too long, or has no words.
        """
        return [chunk for chunk, _, _ in await self.retrieve(owner_id, query, "hybrid", limit)]
