"""Full-text search over the caller's chunks: SQLite FTS5 (BM25) or PostgreSQL full-text.

Snippets come back as plain text plus highlight ranges (character offsets), so the client
renders matches with ``<mark>`` elements and never has to trust markup from the server.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from productdemo.errors import BadRequest
from productdemo.realtime.protocol import CamelModel

# Highlight markers: control characters that never occur in extracted text.
START, STOP = "\x02", "\x03"
MAX_QUERY = 200
_WORD = re.compile(r"\w+", re.UNICODE)

_SQLITE = text(f"""
SELECT c.document_id, d.filename, c.idx, c.page, c.section,
       snippet(chunks_fts, 0, '{START}', '{STOP}', '…', 24) AS snip, -bm25(chunks_fts) AS score
FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id
WHERE chunks_fts MATCH :query AND d.owner_id = :owner
ORDER BY bm25(chunks_fts) LIMIT :limit
""")

_POSTGRES = text(f"""
SELECT c.document_id, d.filename, c.idx, c.page, c.section,
       ts_headline('english', c.text, q, 'StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12')
         AS snip, ts_rank(c.tsv, q) AS score
FROM chunks c JOIN documents d ON d.id = c.document_id, plainto_tsquery('english', :query) q
WHERE c.tsv @@ q AND d.owner_id = :owner
ORDER BY score DESC LIMIT :limit
""")


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

    async def search(self, owner_id: int, query: str, limit: int = 20) -> list[SearchHit]:
        """Ranked chunks of the owner's documents that match every word of ``query``.

        Raises:
            BadRequest: the query is empty, too long, or has no words.
        """
        if len(query) > MAX_QUERY:
            raise BadRequest(f"the query has more than {MAX_QUERY} characters")
        words = _WORD.findall(query)
        if not words:
            raise BadRequest("the query has no words to search for")
        if self._dialect == "sqlite":
            # Each word quoted: FTS5 query syntax in user input must not be interpreted.
            statement, bound = _SQLITE, " ".join(f'"{w}"' for w in words)
        else:
            statement, bound = _POSTGRES, " ".join(words)
        async with self._db() as db:
            rows = (await db.execute(statement, {"query": bound, "owner": owner_id, "limit": limit})).all()
        hits = []
        for doc_id, filename, idx, page, section, snip, score in rows:
            snippet, ranges = split_highlights(snip)
            hits.append(
                SearchHit(
                    document_id=doc_id,
                    filename=filename,
                    chunk_index=idx,
                    page=page,
                    section=section,
                    snippet=snippet,
                    highlights=ranges,
                    score=float(score),
                )
            )
        return hits
