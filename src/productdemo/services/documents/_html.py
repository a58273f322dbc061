"""HTML to text in one pass, in time linear in the input whatever its nesting or errors.

Why not :class:`html.parser.HTMLParser`: on Python 3.11.7 it is quadratic or worse on some
malformed input (CVE-2025-6069: 75 KB of ``"<!--" + "<a " * 25_000`` took 170 s here), and
it spends about 6 µs per tag, so 10 MB of nested ``<div>`` took 6 s. This tokenizer follows the
tokenizing rules of the HTML standard that matter for text (raw text elements, comments, quoted
attribute values, entities) with regular expressions that cannot backtrack, and keeps only
counters, never a stack of open elements, so nesting depth costs nothing.

Dropped: ``script``, ``style``, ``template``, ``noscript`` (and ``iframe``, ``noembed``,
``noframes``, ``xmp``, whose content is not text). Block elements end lines, ``h1``-``h6`` start
a new part named after the heading, table cells are joined with ``" | "``. White space
collapses as a browser shows it, except line breaks inside ``pre``; indentation is not kept.
"""

from __future__ import annotations

import html
import re

from productdemo.services.documents.parts import ExtractedPart, section_name, tidy_text

# A start or end tag. Every branch after the name consumes at least one character and an
# unclosed quote runs to the end of the input, as the standard says, so once the name matched
# the match cannot fail; the possessive quantifiers forbid backtracking.
_TAG = re.compile(
    r"""<(/?)([A-Za-z][^\t\n\f\r />]*+)
    (?: [^>"'=]++ | =\s*+(?:"[^"]*+"?|'[^']*+'?) | [="'] )*+
    (?:>|\Z)""",
    re.VERBOSE,
)
# Text up to the next "<" that starts a tag, a comment or a declaration; a "<" that starts
# nothing (as in "a < b") is text.
_TEXT = re.compile(r"[^<]*+(?:<(?![A-Za-z!?/])[^<]*+)*+")
_SPACE = re.compile(r"[ \t\n\r\f\xa0]+")

_RAW_TEXT = ("script", "style", "iframe", "noembed", "noframes", "xmp", "title", "textarea")
# Found case-insensitively from where the start tag ended.
_RAW_TEXT_END = {name: re.compile(rf"</{name}(?=[\t\n\f\r />]|\Z)", re.IGNORECASE) for name in _RAW_TEXT}
_SKIPPED = frozenset({"template", "noscript"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PARAGRAPH = frozenset(
    {
        "address", "article", "aside", "blockquote", "details", "dl", "fieldset", "figcaption",
        "figure", "footer", "form", "header", "hr", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "ul",
    }
)  # fmt: skip
_LINE = frozenset({"br", "caption", "dd", "div", "dt", "legend", "li", "option", "tr", "body", "html"})


def html_to_parts(source: str) -> list[ExtractedPart]:
    """Split an HTML document into parts at its headings; parts without text are left out."""
    converter = _Converter()
    converter.feed(source)
    return converter.finish()


class _Converter:
    def __init__(self) -> None:
        self._parts: list[ExtractedPart] = []
        self._pieces: list[str] = []
        self._section: str | None = None
        self._heading: list[str] | None = None  # the heading's text while inside one
        self._seen_heading = False
        self._skip_depth = 0  # inside template or noscript
        self._pre_depth = 0
        self._cells: list[int] = []  # cells so far in the current row, per open table

    def feed(self, source: str) -> None:
        pos, end = 0, len(source)
        while pos < end:
            text = _TEXT.match(source, pos)
            assert text is not None  # the pattern matches the empty string
            if text.end() > pos:
                self._text(text.group())
                pos = text.end()
                if pos >= end:
                    break
            tag = _TAG.match(source, pos)
            if tag is not None:
                pos = self._tag(source, tag)
            elif source.startswith("<!--", pos):
                # From pos + 2, so that "<!-->" closes itself, as in browsers.
                close = source.find("-->", pos + 2)
                pos = end if close < 0 else close + 3
            else:
                # "<!doctype ...>", "<![CDATA[...]]>", "<?...>", "</ ...>": ignored up to ">".
                close = source.find(">", pos + 2)
                pos = end if close < 0 else close + 1

    def finish(self) -> list[ExtractedPart]:
        if self._heading is not None:
            self._end_heading()
        self._flush()
        return self._parts

    def _tag(self, source: str, tag: re.Match[str]) -> int:
        """Handle one tag; return where parsing goes on."""
        name = tag.group(2).lower()
        if tag.group(1):
            self._end(name)
            return tag.end()
        self._start(name)
        if name not in _RAW_TEXT:
            return tag.end()
        close = _RAW_TEXT_END[name].search(source, tag.end())
        stop = len(source) if close is None else close.start()
        if name == "title" and self._section is None and not self._seen_heading:
            self._section = section_name(html.unescape(source[tag.end() : stop]))
        elif name == "textarea":
            self._text(source[tag.end() : stop])
        return stop

    def _start(self, name: str) -> None:
        if self._skip_depth or name in _SKIPPED:
            self._skip_depth += name in _SKIPPED
            return
        if name in _HEADINGS and self._heading is None:
            self._flush()
            self._heading = []
            return
        if name == "pre":
            self._pre_depth += 1
        elif name == "table":
            self._cells.append(0)
        elif name == "tr" and self._cells:
            self._cells[-1] = 0
        elif name in ("td", "th") and self._cells:
            if self._cells[-1]:
                self._emit(" | ")
            self._cells[-1] += 1
        self._break(name)

    def _end(self, name: str) -> None:
        if self._skip_depth:
            self._skip_depth -= name in _SKIPPED
            return
        if name in _HEADINGS and self._heading is not None:
            self._end_heading()
            return
        if name == "pre" and self._pre_depth:
            self._pre_depth -= 1
        elif name == "table" and self._cells:
            self._cells.pop()
        self._break(name)

    def _break(self, name: str) -> None:
        if name in _PARAGRAPH:
            self._emit("\n\n")
        elif name in _LINE:
            self._emit("\n")

    def _text(self, raw: str) -> None:
        if self._skip_depth:
            return
        text = html.unescape(raw) if "&" in raw else raw
        self._emit(text if self._pre_depth else _SPACE.sub(" ", text))

    def _emit(self, piece: str) -> None:
        (self._pieces if self._heading is None else self._heading).append(piece)

    def _end_heading(self) -> None:
        assert self._heading is not None
        heading = "".join(self._heading)
        self._heading = None
        self._seen_heading = True
        self._section = section_name(heading) or self._section
        self._pieces = [heading, "\n\n"]

    def _flush(self) -> None:
        text = tidy_text("".join(self._pieces), strip_lines=True)
        if text:
            self._parts.append(ExtractedPart(text, section=self._section))
        self._pieces = []
