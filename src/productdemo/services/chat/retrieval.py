"""What the answer pipeline needs of retrieval, and how it picks the passages it cites.

Search itself belongs to the documents service (``DocumentSearch.passages``: the owner's
chunks ranked by any of the question's terms); this module only states the shape it relies
on and chooses among the hits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from productdemo.services.chat.events import Source
from productdemo.services.chat.generators import Passage

# The passage as the reader sees it when opening a citation.
QUOTE_CHARS = 2000
PER_DOCUMENT = 3


class Hit(Protocol):
    """A passage of one of the owner's documents, as retrieval returns it."""

    @property
    def document_id(self) -> str: ...
    @property
    def filename(self) -> str: ...
    @property
    def chunk_index(self) -> int: ...
    @property
    def page(self) -> int | None: ...
    @property
    def section(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def score(self) -> float: ...


class PassageSearch(Protocol):
    async def passages(self, owner_id: int, query: str, limit: int) -> Sequence[Hit]:
        """The owner's best passages for ``query``, best first."""
        ...


def rank(hits: Sequence[Hit], limit: int) -> list[Passage]:
    """The best ``limit`` passages, at most three from one document so one long file does not
    crowd out the others, numbered from 1 in order of score."""
    chosen: list[Hit] = []
    per_document: dict[str, int] = {}
    seen: set[tuple[str, int]] = set()
    for hit in sorted(hits, key=lambda h: -h.score):
        key = (hit.document_id, hit.chunk_index)
        if key in seen or per_document.get(hit.document_id, 0) >= PER_DOCUMENT:
            continue
        seen.add(key)
        per_document[hit.document_id] = per_document.get(hit.document_id, 0) + 1
        chosen.append(hit)
        if len(chosen) == limit:
            break
    return [
        Passage(
            Source(
                n=n,
                document_id=hit.document_id,
                filename=hit.filename,
                chunk_index=hit.chunk_index,
                page=hit.page,
                section=hit.section,
                start=hit.start,
                end=hit.end,
                quote=_quote(hit.text),
            ),
            hit.text,
        )
        for n, hit in enumerate(chosen, start=1)
    ]


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 1].rstrip() + "…"
