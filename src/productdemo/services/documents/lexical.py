"""Lexical retrieval: BM25 over any of the query's words, SQLite FTS5 or PostgreSQL full-text.

A question ("How do I copy a file?") rarely has every one of its words in the passage that
answers it, so the query is the OR of its words, stop words aside, and ranking decides:
FTS5's ``bm25()`` on SQLite; ``ts_rank`` (length-normalised) over an OR'ed ``tsquery`` on
PostgreSQL. Each row carries the chunk's whole text and a snippet with highlight markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from productdemo.errors import BadRequest
from productdemo.services.documents.stopwords import STOP_WORDS

# Highlight markers: control characters that never occur in extracted text.
START, STOP = "\x02", "\x03"
MAX_QUERY = 200
MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)

_COLUMNS = "c.id, c.document_id, d.filename, c.idx, c.page, c.section, c.text, c.char_start, c.char_end"

_SQLITE = text(f"""
SELECT {_COLUMNS},
       snippet(chunks_fts, 0, '{START}', '{STOP}', '…', 24) AS snip, -bm25(chunks_fts) AS score
FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id
WHERE chunks_fts MATCH :query AND d.owner_id = :owner
ORDER BY bm25(chunks_fts) LIMIT :limit
""")

# ts_rank normalisation 1 divides by 1 + log(length), as BM25's length term does.
_POSTGRES = text(f"""
SELECT {_COLUMNS},
       ts_headline('english', c.text, q, 'StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12')
         AS snip, ts_rank(c.tsv, q, 1) AS score
FROM chunks c JOIN documents d ON d.id = c.document_id, to_tsquery('english', :query) q
WHERE c.tsv @@ q AND d.owner_id = :owner
ORDER BY score DESC, c.id LIMIT :limit
""")


@dataclass(frozen=True)
class LexicalRow:
    """A chunk that matched, with its snippet (highlight markers in) and BM25-like score."""

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


async def lexical_search(
    db: AsyncSession, dialect: str, owner_id: int, terms: list[str], limit: int
) -> list[LexicalRow]:
    """The owner's chunks matching any of ``terms``, best first."""
    if dialect == "sqlite":
        # Each word quoted: FTS5 query syntax in user input must not be interpreted.
        statement, bound = _SQLITE, " OR ".join(f'"{t}"' for t in terms)
    else:
        # \w+ words hold no tsquery syntax; quoted, each is still stemmed by the 'english' config.
        statement, bound = _POSTGRES, " | ".join(f"'{t}'" for t in terms)
    rows = (await db.execute(statement, {"query": bound, "owner": owner_id, "limit": limit})).all()
    return [
        LexicalRow(
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
