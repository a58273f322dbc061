"""Split extracted parts into overlapping chunks for the full-text index.

A chunk never crosses a part, so its page and section are exact. Each chunk ends at the best
break in the second half of its window, trying in order: a blank line, a line end, a sentence
end, a space; only text with none of these is cut mid-word. The next chunk starts up to
``overlap`` characters before the previous one ended, at the start of a word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from productdemo.services.documents.parts import ExtractedPart

# A sentence ends with . ! or ? (then maybe closing quotes or brackets) before white space,
# or with CJK punctuation. The look-behind lets a match start only at the first mark of a run,
# so that a long run of "!" costs linear, not quadratic, time.
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]++[\"')\]»”’]*+(?=\s)|[。！？]")
_SPACE = re.compile(r"\s")
_NON_SPACE = re.compile(r"\S")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document's text, small enough to index and to quote.

    Attributes:
        index: its position among all chunks of the document, from 0.
        text: the chunk, exactly ``parts[part_index].text[char_start:char_end]``: never empty,
            never starting or ending with white space.
        page: the page of its part (PDF), or ``None``.
        section: the section of its part, or ``None``.
        char_start: where it starts in its part's text, as a Python string index (Unicode code
            points; not bytes and not JavaScript's UTF-16 units).
        char_end: where it ends in its part's text, exclusive.
        part_index: the position of its part in the list that was chunked, from 0.
    """

    index: int
    text: str
    page: int | None
    section: str | None
    char_start: int
    char_end: int
    part_index: int


def chunk_parts(parts: Sequence[ExtractedPart], *, size: int = 1000, overlap: int = 150) -> list[Chunk]:
    """Split each part's text into chunks of at most ``size`` characters.

    Args:
        parts: the output of :func:`~.extract.extract`.
        size: the most characters in a chunk; a chunk holds at least ``size // 2`` unless its
            part ends sooner or white space is trimmed from its end.
        overlap: the most characters a chunk repeats from the end of the one before it in the
            same part; less when that would start mid-word.

    Returns:
        The chunks of all parts, in order; a part of only white space has none.

    Raises:
        ValueError: ``size`` is below 2, or ``overlap`` is negative or not below ``size // 2``
            (the least a chunk advances), which could keep chunks from moving forward.
    """
    if size < 2 or not 0 <= overlap < size // 2:
        raise ValueError(f"need size >= 2 and 0 <= overlap < size // 2, got size={size}, overlap={overlap}")
    chunks: list[Chunk] = []
    for part_index, part in enumerate(parts):
        for start, end in _spans(part.text, size, overlap):
            chunks.append(
                Chunk(len(chunks), part.text[start:end], part.page, part.section, start, end, part_index)
            )
    return chunks


def _spans(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    spans = []
    start = _skip_space(text, 0)
    while start < len(text):
        limit = start + size
        end = len(text) if limit >= len(text) else _break_before(text, start + size // 2, limit)
        while end > start and text[end - 1].isspace():
            end -= 1
        spans.append((start, end))
        if _skip_space(text, end) >= len(text):
            break
        # At least one character forward, even when trimming left the chunk shorter than overlap.
        start = _skip_space(text, _word_start(text, max(end - overlap, start + 1), end))
    return spans


def _break_before(text: str, low: int, limit: int) -> int:
    """Where to end a chunk that may end anywhere in ``[low, limit]``; the best break wins."""
    # rfind's end bound is exclusive and the break characters are not part of the chunk,
    # hence the + 2 and + 1.
    paragraph = text.rfind("\n\n", low, limit + 2)
    if paragraph >= 0:
        return paragraph
    line = text.rfind("\n", low, limit + 1)
    if line >= 0:
        return line
    # endpos = limit + 1 lets the look-ahead see the character just after the window.
    sentences = [m.end() for m in _SENTENCE_END.finditer(text, low, limit + 1) if m.end() <= limit]
    if sentences:
        return sentences[-1]
    space = max(text.rfind(" ", low, limit + 1), text.rfind("\t", low, limit + 1))
    return space if space >= 0 else limit


def _word_start(text: str, pos: int, end: int) -> int:
    """``pos`` if a word starts there, else the next word start before ``end``, else see below.

    When ``[pos, end)`` lies inside one run without white space: if the run goes on past
    ``end`` the chunk was cut mid-run (text without spaces, such as CJK), so the overlap starts
    at ``pos``, mid-run, rather than being lost; otherwise the run is the chunk's last word,
    and the next chunk starts after it, at ``end``, rather than mid-word.
    """
    if text[pos - 1].isspace() or text[pos].isspace():
        return pos
    space = _SPACE.search(text, pos, end)
    if space is not None:
        return space.start()
    return end if text[end].isspace() else pos


def _skip_space(text: str, pos: int) -> int:
    found = _NON_SPACE.search(text, pos)
    return len(text) if found is None else found.start()
