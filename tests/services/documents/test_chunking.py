"""Chunking: bounded, overlapping chunks that end at natural breaks and know their offsets."""

from __future__ import annotations

import pytest

from productdemo.services.documents import Chunk, ExtractedPart, chunk_parts


def spans(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """The (char_start, char_end) of each chunk of one part holding ``text``."""
    return [
        (chunk.char_start, chunk.char_end)
        for chunk in chunk_parts([ExtractedPart(text)], size=size, overlap=overlap)
    ]


def test_short_part_is_one_chunk() -> None:
    """A part shorter than the size is one chunk carrying the part's page and section."""
    part = ExtractedPart("Hello world.", page=2, section="Intro")
    assert chunk_parts([part]) == [Chunk(0, "Hello world.", 2, "Intro", 0, 12, 0)]


def test_offsets_skip_white_space_around_a_part() -> None:
    """Offsets point into the part's text, past white space the chunk leaves out."""
    assert chunk_parts([ExtractedPart("  hi \n")]) == [Chunk(0, "hi", None, None, 2, 4, 0)]


def test_paragraph_break_wins_over_sentence_end() -> None:
    """A blank line ends the chunk even when a sentence ends nearer the size limit."""
    text = "First paragraph is here.\n\nSecond. Third. Fourth and more words."
    assert spans(text, size=40, overlap=10) == [(0, 24), (16, 40), (34, 63)]
    # (16, 40): the second window has no line break in its second half, so a sentence end wins.
    assert text[16:40] == "is here.\n\nSecond. Third."


def test_line_break_wins_over_space() -> None:
    """A line end ends the chunk before a later space would."""
    text = "One two three four five\nsix seven eight nine ten"
    assert spans(text, size=40, overlap=5) == [(0, 23), (19, 48)]


def test_space_when_nothing_better_and_no_mid_word_overlap() -> None:
    """Without line or sentence ends a chunk ends at a space, and the next never starts mid-word."""
    text = "aaaa bbbb cccc dddd eeee ffff"
    assert spans(text, size=12, overlap=3) == [(0, 9), (10, 19), (20, 29)]


def test_text_without_spaces_is_cut_and_overlaps() -> None:
    """Text without white space is cut at the size and overlaps by exactly the overlap."""
    assert spans("x" * 100, size=40, overlap=10) == [(0, 40), (30, 70), (60, 100)]


def test_cjk_sentence_end_is_a_break() -> None:
    """A CJK full stop ends a chunk although no space follows it."""
    text = "这是第一句话。" * 10
    assert spans(text, size=30, overlap=5) == [(0, 28), (23, 49), (44, 70)]


def test_chunks_across_parts() -> None:
    """Indexes run across parts, each chunk keeps its part's place, and blank parts give none."""
    parts = [
        ExtractedPart("Alpha.", page=1),
        ExtractedPart("   "),
        ExtractedPart("x" * 100, page=3, section="S"),
    ]
    assert chunk_parts(parts, size=40, overlap=10) == [
        Chunk(0, "Alpha.", 1, None, 0, 6, 0),
        Chunk(1, "x" * 40, 3, "S", 0, 40, 2),
        Chunk(2, "x" * 40, 3, "S", 30, 70, 2),
        Chunk(3, "x" * 40, 3, "S", 60, 100, 2),
    ]


def test_invariants_on_a_long_text() -> None:
    """With the defaults, every chunk is a trimmed slice of 500-1000 characters ending a sentence,
    overlaps the previous one by at most 150, and together they cover every word."""
    sentences = [f"Sentence number {i} says something {'quite ' * (i % 7)}useful." for i in range(400)]
    paragraphs = [" ".join(sentences[i : i + 9]) for i in range(0, 400, 9)]
    text = "\n\n".join(paragraphs)
    chunks = chunk_parts([ExtractedPart(text)])
    covered: set[int] = set()
    for previous, chunk in zip([None, *chunks], chunks, strict=False):
        assert chunk.text == text[chunk.char_start : chunk.char_end] == chunk.text.strip()
        assert len(chunk.text) <= 1000
        assert chunk.text.endswith(".")
        if chunk is not chunks[-1]:
            assert len(chunk.text) >= 500
        if previous is not None:
            assert previous.char_start < chunk.char_start
            assert previous.char_end - 150 <= chunk.char_start <= previous.char_end + 2
        covered.update(range(chunk.char_start, chunk.char_end))
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    assert {i for i, char in enumerate(text) if not char.isspace()} <= covered


def test_long_runs_stay_linear() -> None:
    """200,000 "!" and a 200,000-space gap are chunked quickly and exactly."""
    marks = spans("!" * 200_000, size=1000, overlap=150)
    assert (len(marks), marks[0], marks[-1]) == (236, (0, 1000), (199_750, 200_000))
    assert spans("a" + " " * 200_000 + "b", size=1000, overlap=150) == [(0, 1), (200_001, 200_002)]


@pytest.mark.parametrize(("size", "overlap"), [(1, 0), (100, -1), (100, 50), (1000, 500)])
def test_bad_sizes_are_refused(size: int, overlap: int) -> None:
    """A size below 2, a negative overlap, or one not below half the size raises ValueError."""
    with pytest.raises(
        ValueError,
        match=rf"^need size >= 2 and 0 <= overlap < size // 2, got size={size}, overlap={overlap}$",
    ):
        chunk_parts([ExtractedPart("text")], size=size, overlap=overlap)
