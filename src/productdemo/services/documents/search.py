"""Search over the caller's chunks: hits for the search page, passages for answering questions.

Snippets come back as plain text plus highlight ranges (character offsets), so the client
renders matches with ``<mark>`` elements and never has to trust markup from the server.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.realtime.protocol import CamelModel
from productdemo.services.documents.lexical import START, STOP, LexicalRow, lexical_search, query_terms


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


class Passage(CamelModel):
    """A whole chunk retrieved for a question; ``start``/``end`` are its offsets in the document."""

    document_id: str
    filename: str
    chunk_index: int
    page: int | None
    section: str | None
    text: str
    start: int
    end: int
    score: float


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


class DocumentSearch:
    def __init__(self, db: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._db = db
        self._dialect = dialect

    async def _lexical(self, owner_id: int, query: str, limit: int) -> list[LexicalRow]:
        terms = query_terms(query)
        async with self._db() as db:
            return await lexical_search(db, self._dialect, owner_id, terms, limit)

    async def search(self, owner_id: int, query: str, limit: int = 20) -> list[SearchHit]:
        """Ranked chunks of the owner's documents that match any word of ``query`` (BM25).

        Raises:
            BadRequest: the query is empty, too long, or has no words.
        """
        hits = []
        for row in await self._lexical(owner_id, query, limit):
            snippet, ranges = split_highlights(row.snippet)
            hits.append(
                SearchHit(
                    document_id=row.document_id,
                    filename=row.filename,
                    chunk_index=row.chunk_index,
                    page=row.page,
                    section=row.section,
                    snippet=snippet,
                    highlights=ranges,
                    score=row.score,
                )
            )
        return hits

    async def passages(self, owner_id: int, query: str, limit: int = 8) -> list[Passage]:
        """The owner's chunks that best answer ``query``, whole, best first.

        Raises:
            BadRequest: the query is empty, too long, or has no words.
        """
        return [
            Passage(
                document_id=row.document_id,
                filename=row.filename,
                chunk_index=row.chunk_index,
                page=row.page,
                section=row.section,
                text=row.text,
                start=row.start,
                end=row.end,
                score=row.score,
            )
            for row in await self._lexical(owner_id, query, limit)
        ]
