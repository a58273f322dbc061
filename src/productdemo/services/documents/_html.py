"""HTML to text in one pass, in time linear in the input whatever its nesting or errors.

Why not :class:`html.parser.HTMLParser`: on Python 3.11.7 it is quadratic or worse on some
malformed input (CVE-2025-6069, python/cpython#135462, fixed in later patch releases: 75 KB of
``"<!--" + "<a " * 25_000`` took 170 s here), and it spends about 3 µs per tag, so 11 MB of
nested ``<div>`` (two million tags) took 6 s; this module spends about 1 µs. It follows the
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

# One token at a time: a tag, text, a comment, or another markup declaration. Some alternative
# matches at every position, so parsing never stalls. In a tag, every branch after the name
# consumes a character and an unclosed quote runs to the end of the input, as the standard says,
# so once the name matched the tag cannot fail; possessive quantifiers forbid backtracking.
# A "<" that starts no tag, comment or declaration (as in "a < b") is text.
_TOKEN = re.compile(
    r"""<(?P<slash>/?)(?P<name>[A-Za-z][^\t\n\f\r />]*+)
      (?: [^>"'=]++ | =\s*+(?:"[^"]*+"?|'[^']*+'?) | [="'] )*+
      (?:>|\Z)
    | (?P<text> [^<]++ (?:<(?![A-Za-z!?/])[^<]*+)*+ | (?:<(?![A-Za-z!?/])[^<]*+)++ )
    | (?P<comment><!--)
    | <[!?/]""",
    re.VERBOSE,
)
_SPACE = re.compile(r"[ \t\n\r\f\xa0]+")

_RAW_TEXT = ("script", "style", "iframe", "noembed", "noframes", "xmp", "title", "textarea")
# Searched for case-insensitively from where the start tag ended.
_RAW_TEXT_END = {name: re.compile(rf"</{name}(?=[\t\n\f\r />]|\Z)", re.IGNORECASE) for name in _RAW_TEXT}
_SKIPPED = frozenset({"template", "noscript"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_TABLE = frozenset({"table", "tr", "td", "th"})
_SPECIAL = frozenset(_RAW_TEXT) | _SKIPPED | _HEADINGS | _TABLE | {"br", "pre"}
# The break an element makes before and after itself: a line end, or a blank line.
_LINE_BLOCKS = ("body", "caption", "dd", "div", "dt", "html", "legend", "li", "option", "tr")
_PARAGRAPH_BLOCKS = (
    "address", "article", "aside", "blockquote", "details", "dl", "fieldset", "figcaption",
    "figure", "footer", "form", "header", "hr", "main", "nav", "ol", "p", "pre", "section",
    "summary", "table", "ul",
)  # fmt: skip
_BREAKS = {**dict.fromkeys(_LINE_BLOCKS, 1), **dict.fromkeys(_PARAGRAPH_BLOCKS, 2)}


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
        # Breaks wait until text follows, so that nested or adjacent blocks make one break.
        self._pending_break = 0
        self._skip_depth = 0  # inside template or noscript
        self._pre_depth = 0
        self._cells: list[int] = []  # cells so far in the current row, per open table

    def feed(self, source: str) -> None:
        pos, end = 0, len(source)
        token = _TOKEN.match
        while pos < end:
            found = token(source, pos)
            assert found is not None  # some alternative matches everywhere
            kind = found.lastgroup
            pos = found.end()
            if kind == "text":
                if not self._skip_depth:
                    self._text(found.group())
            elif kind == "name":
                slash, name = found.group("slash", "name")
                name = name.lower()
                if name in _SPECIAL or self._skip_depth:
                    pos = self._special(source, name, bool(slash), pos)
                # The common case, inlined because a 10 MB page can hold a million tags.
                elif _BREAKS.get(name, 0) > self._pending_break:
                    self._pending_break = _BREAKS[name]
            elif kind == "comment":
                # From the "<!" on, so that "<!-->" closes itself, as in browsers.
                close = source.find("-->", pos - 2)
                pos = end if close < 0 else close + 3
            else:
                # "<!doctype ...>", "<![CDATA[...]]>", "<?...>", "</ ...>": ignored up to ">".
                close = source.find(">", pos)
                pos = end if close < 0 else close + 1

    def finish(self) -> list[ExtractedPart]:
        if self._heading is not None:
            self._end_heading()
        self._flush()
        return self._parts

    def _special(self, source: str, name: str, closing: bool, pos: int) -> int:
        """Handle a tag that does more than break lines; return where parsing goes on."""
        if closing:
            self._end(name)
            return pos
        self._start(name)
        if name not in _RAW_TEXT:
            return pos
        close = _RAW_TEXT_END[name].search(source, pos)
        stop = len(source) if close is None else close.start()
        if name == "title" and self._section is None and not self._seen_heading:
            self._section = section_name(html.unescape(source[pos:stop]))
        elif name == "textarea":
            self._text(source[pos:stop])
        return stop

    def _start(self, name: str) -> None:
        if self._skip_depth or name in _SKIPPED:
            self._skip_depth += name in _SKIPPED
        elif name == "br":
            self._emit("\n")
        elif name in _HEADINGS and self._heading is None:
            self._flush()
            self._heading = []
        else:
            if name == "pre":
                self._pre_depth += 1
            elif name in _TABLE:
                self._table_start(name)
            self._pending_break = max(self._pending_break, _BREAKS.get(name, 0))

    def _end(self, name: str) -> None:
        if self._skip_depth:
            self._skip_depth -= name in _SKIPPED
        elif name in _HEADINGS and self._heading is not None:
            self._end_heading()
        else:
            if name == "pre" and self._pre_depth:
                self._pre_depth -= 1
            elif name == "table" and self._cells:
                self._cells.pop()
            self._pending_break = max(self._pending_break, _BREAKS.get(name, 0))

    def _table_start(self, name: str) -> None:
        if name == "table":
            self._cells.append(0)
        elif name == "tr" and self._cells:
            self._cells[-1] = 0
        elif name != "tr" and self._cells:  # td or th
            if self._cells[-1]:
                self._emit(" | ")
            self._cells[-1] += 1

    def _text(self, raw: str) -> None:
        if self._skip_depth:
            return
        text = html.unescape(raw) if "&" in raw else raw
        if not self._pre_depth:
            text = _SPACE.sub(" ", text)
            if text == " " and self._pending_break:
                return  # the white space between two blocks
        self._emit(text)

    def _emit(self, piece: str) -> None:
        target = self._pieces if self._heading is None else self._heading
        if self._pending_break:
            target.append("\n" * self._pending_break)
            self._pending_break = 0
        target.append(piece)

    def _end_heading(self) -> None:
        assert self._heading is not None
        heading = "".join(self._heading)
        self._heading = None
        self._seen_heading = True
        self._section = section_name(heading) or self._section
        self._pieces = [heading]
        self._pending_break = 2

    def _flush(self) -> None:
        text = tidy_text("".join(self._pieces), strip_lines=True)
        if text:
            self._parts.append(ExtractedPart(text, section=self._section))
        self._pieces = []
        self._pending_break = 0
