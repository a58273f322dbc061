"""What extraction produces: the document's text, in parts that know where they came from."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

ProgressCallback = Callable[[int, int], None]
"""Called as ``on_progress(done, total)`` from the thread doing the extraction."""

# A heading can hold a whole document when its end tag is missing; a section name stays short.
MAX_SECTION_LENGTH = 200

_BLANK_LINES = re.compile(r"\n{3,}")
_PAGE_BREAKS = re.compile(r"[\v\f]")  # vertical tab, form feed
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # C0 and C1, except \t \n \v \f \r


@dataclass(frozen=True, slots=True)
class ExtractedPart:
    """A stretch of a document's text that has one location.

    Attributes:
        text: the text, stripped of leading and trailing white space and never empty.
            Paragraphs are separated by a blank line (``"\\n\\n"``), lines by ``"\\n"``.
            It holds no control characters but tab and line feed, so a caller may use the
            others as markers (search highlights), and PostgreSQL, which refuses NUL, stores it.
        page: the 1-based page number for PDF; ``None`` for the other types.
        section: the heading the text sits under (docx, html and md), or ``None`` before the
            first heading. An HTML page's ``<title>`` names the part before its first heading.
    """

    text: str
    page: int | None = None
    section: str | None = None


def section_name(text: str) -> str | None:
    """A heading's text on one line and at most ``MAX_SECTION_LENGTH`` characters; ``None`` if blank."""
    name = " ".join(_remove_controls(text).split())
    if len(name) > MAX_SECTION_LENGTH:
        name = name[: MAX_SECTION_LENGTH - 1] + "…"
    return name or None


def tidy_text(text: str, *, strip_lines: bool = False) -> str:
    """Line feeds only, no white space at line ends, at most one blank line in a row, stripped.

    Control characters go: vertical tab and form feed become line feeds, carriage returns
    (alone or before a line feed) become line feeds, the others are removed.

    Args:
        text: the text to tidy.
        strip_lines: also remove white space at the start of each line.
    """
    text = _remove_controls(text)
    # Line by line rather than with a pattern like "[ \t]+\n": that one is quadratic in the
    # length of a run of spaces without a line feed after it.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    text = "\n".join([line.strip() for line in lines] if strip_lines else [line.rstrip() for line in lines])
    return _BLANK_LINES.sub("\n\n", text).strip()


def _remove_controls(text: str) -> str:
    text = _PAGE_BREAKS.sub("\n", text)
    return _CONTROLS.sub("", text)
