"""Lexical retrieval: BM25 over any of the query's words, SQLite FTS5 or PostgreSQL full-text.

A question ("How do I copy a file?") rarely has every one of its words in the passage that
answers it, so the query is the OR of its words, stop words aside, and ranking decides:
FTS5's ``bm25()`` on SQLite; ``ts_rank`` (length-normalised) over an OR'ed ``tsquery`` on
PostgreSQL. Snippets (matches between highlight markers) are made for the hits returned only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from productdemo.errors import BadRequest
from productdemo.services.documents.stopwords import STOP_WORDS

# Highlight markers: control characters that never occur in extracted text.
START, STOP = "\x02", "\x03"
MAX_QUERY = 200
MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)

_COLUMNS = "c.id, c.document_id, d.filename, c.idx, c.page, c.section, c.text, c.char_start, c.char_end"

# Ranking and snippets are separate queries: SQLite computes every result column of every
# matching row before sorting, and snippets for all chunks holding a common word cost more
# than the ranking; hybrid search needs snippets only for the few hits it returns.
_SQLITE_RANK = text("""
SELECT c.id, -bm25(chunks_fts) AS score
FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id
WHERE chunks_fts MATCH :query AND d.owner_id = :owner
ORDER BY bm25(chunks_fts) LIMIT :limit
""")

_SQLITE_SNIPPETS = text(f"""
SELECT rowid, snippet(chunks_fts, 0, '{START}', '{STOP}', '…', 24)
FROM chunks_fts WHERE chunks_fts MATCH :query AND rowid IN :ids
""").bindparams(bindparam("ids", expanding=True))

# ts_rank normalisation 1 divides by 1 + log(length), as BM25's length term does.
_POSTGRES_RANK = text("""
SELECT c.id, ts_rank(c.tsv, q, 1) AS score
FROM chunks c JOIN documents d ON d.id = c.document_id, to_tsquery('english', :query) q
WHERE c.tsv @@ q AND d.owner_id = :owner
ORDER BY score DESC, c.id LIMIT :limit
""")

_POSTGRES_SNIPPETS = text(f"""
SELECT c.id, ts_headline('english', c.text, q, 'StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12')
FROM chunks c, to_tsquery('english', :query) q WHERE c.id IN :ids
""").bindparams(bindparam("ids", expanding=True))


_BY_ID = text(f"""
SELECT {_COLUMNS}, '' AS snip, 0.0 AS score
FROM chunks c JOIN documents d ON d.id = c.document_id
WHERE c.id IN :ids AND d.owner_id = :owner
""").bindparams(bindparam("ids", expanding=True))


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk that was retrieved, whole, with its score and snippet (highlight markers in, if
    words matched). Search hits are made from it, and the chat cites it as it is (a ``Hit``).

    ``start``/``end`` are the chunk's character offsets in the document's text.
    """

    chunk_id: int
    document_id: str
    filename: str
    chunk_index: int
    page: int | None
    section: str | None
    text: str
    start: int
    end: int
    snippet: str
    score: float

    def scored(self, score: float, snippet: str) -> RetrievedChunk:
        return replace(self, score=score, snippet=snippet)


def query_terms(query: str) -> list[str]:
    """The words to search for: stop words dropped, unless the query has nothing else.

    Raises:
        BadRequest: the query is too long or has no words.
    """
    if len(query) > MAX_QUERY:
        raise BadRequest(f"the query has more than {MAX_QUERY} characters")
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))
    if not words:
        raise BadRequest("the query has no words to search for")
    content = [w for w in words if w not in STOP_WORDS]
    return (content or words)[:MAX_TERMS]


def _bound(dialect: str, terms: list[str]) -> str:
    if dialect == "sqlite":
        # Each word quoted: FTS5 query syntax in user input must not be interpreted.
        return " OR ".join(f'"{t}"' for t in terms)
    # \w+ words hold no tsquery syntax; quoted, each is still stemmed by the 'english' config.
    return " | ".join(f"'{t}'" for t in terms)


async def lexical_ranking(
    db: AsyncSession, dialect: str, owner_id: int, terms: list[str], limit: int
) -> list[tuple[int, float]]:
    """The owner's chunks matching any of ``terms``, best first: (chunk id, score)."""
    statement = _SQLITE_RANK if dialect == "sqlite" else _POSTGRES_RANK
    params = {"query": _bound(dialect, terms), "owner": owner_id, "limit": limit}
    return [(int(r[0]), float(r[1])) for r in (await db.execute(statement, params)).all()]


async def snippets(db: AsyncSession, dialect: str, terms: list[str], ids: list[int]) -> dict[int, str]:
    """Snippets of chunks ``ids`` around ``terms``, the matches between highlight markers."""
    if not ids:
        return {}
    statement = _SQLITE_SNIPPETS if dialect == "sqlite" else _POSTGRES_SNIPPETS
    rows = (await db.execute(statement, {"query": _bound(dialect, terms), "ids": ids})).all()
    return {int(r[0]): str(r[1]) for r in rows}


async def chunks_by_id(db: AsyncSession, owner_id: int, ids: list[int]) -> dict[int, RetrievedChunk]:
    """The owner's chunks among ``ids`` (no snippet, no score): another user's ids find nothing."""
    if not ids:
        return {}
    rows = (await db.execute(_BY_ID, {"ids": ids, "owner": owner_id})).all()
    return {chunk.chunk_id: chunk for chunk in _rows(rows)}


def _rows(rows: Sequence[Sequence[Any]]) -> list[RetrievedChunk]:
    return [
        RetrievedChunk(
            chunk_id=int(r[0]),
            document_id=r[1],
            filename=r[2],
            chunk_index=r[3],
            page=r[4],
            section=r[5],
            text=r[6],
            start=r[7],
            end=r[8],
            snippet=r[9],
            score=float(r[10]),
        )
        for r in rows
    ]
