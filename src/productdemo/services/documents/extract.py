"""Extract a document's text, in parts that carry their page or section.

Everything here is synchronous and keeps no state between calls, so the caller can run it in a
thread or process pool. Each function holds only its own objects, which makes concurrent calls
from worker threads safe.
"""

from __future__ import annotations

from productdemo.services.documents._decode import decode_text
from productdemo.services.documents._docx import docx_to_parts
from productdemo.services.documents._html import html_to_parts
from productdemo.services.documents._pdf import pdf_to_parts
from productdemo.services.documents.archive import DEFAULT_ZIP_LIMITS, ZipLimits
from productdemo.services.documents.errors import CorruptDocument, NoTextFound
from productdemo.services.documents.parts import ExtractedPart, ProgressCallback, section_name, tidy_text
from productdemo.services.documents.sniff import DocumentKind

_FENCES = ("```", "~~~")


def extract(
    data: bytes,
    kind: DocumentKind | str,
    encoding: str | None = None,
    on_progress: ProgressCallback | None = None,
    *,
    zip_limits: ZipLimits = DEFAULT_ZIP_LIMITS,
) -> list[ExtractedPart]:
    """Extract the text of a document whose type :func:`~.sniff.sniff` decided.

    Args:
        data: the whole file.
        kind: its type.
        encoding: for txt, md and html, the codec ``sniff`` found; detected again if ``None``.
        on_progress: called as ``on_progress(done, total)`` in the calling thread: after each
            page of a PDF, and once as ``(1, 1)`` at the end for the other types. To publish
            from a worker thread, hand the values to the event loop (``call_soon_threadsafe``).
            An exception it raises stops the extraction and propagates unchanged, so it can
            also cancel.
        zip_limits: the zip bomb limits for docx.

    Returns:
        The parts in document order, each with text (see :class:`ExtractedPart`); never empty.

    Raises:
        CorruptDocument: the file is damaged, or text in no known encoding.
        EncryptedDocument: the PDF is password-protected.
        NoTextFound: there is no text to extract.
        UnsafeArchive: a docx whose zip would unpack beyond ``zip_limits``.
        ValueError: ``kind`` is not one of :class:`DocumentKind`'s values.
    """
    kind = DocumentKind(kind)
    if kind is DocumentKind.PDF:
        return pdf_to_parts(data, on_progress)
    if kind is DocumentKind.DOCX:
        parts = docx_to_parts(data, zip_limits)
    else:
        decoded = decode_text(data, encoding)
        if decoded is None:
            raise CorruptDocument("the file is not text in any encoding this server knows")
        if kind is DocumentKind.HTML:
            parts = html_to_parts(decoded.text)
        elif kind is DocumentKind.MD:
            parts = markdown_to_parts(decoded.text)
        else:
            text = tidy_text(decoded.text)
            parts = [ExtractedPart(text)] if text else []
    if not parts:
        raise NoTextFound("no extractable text")
    if on_progress is not None:
        on_progress(1, 1)
    return parts


def markdown_to_parts(source: str) -> list[ExtractedPart]:
    """Split Markdown at its ``#`` headings (not inside fenced code); the text stays Markdown.

    Each part starts with its heading line. Underlined (setext) headings do not split.
    """
    parts: list[ExtractedPart] = []
    lines: list[str] = []
    section: str | None = None
    fence: str | None = None

    def flush() -> None:
        text = tidy_text("\n".join(lines))
        if text:
            parts.append(ExtractedPart(text, section=section))
        lines.clear()

    for line in source.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        indented = len(line) - len(line.lstrip(" ")) > 3
        opener = line.lstrip(" ")[:3]
        if not indented and opener in _FENCES and (fence is None or opener == fence):
            fence = opener if fence is None else None
        elif fence is None and not indented:
            heading = _atx_heading(line.lstrip(" "))
            if heading is not None:
                flush()
                section = section_name(heading) or section
        lines.append(line)
    flush()
    return parts


def _atx_heading(line: str) -> str | None:
    """The text of a CommonMark ATX heading such as ``"## Setup ##"``, or ``None``."""
    level = len(line) - len(line.lstrip("#"))
    if not 1 <= level <= 6 or (len(line) > level and line[level] not in " \t"):
        return None
    text = line[level:].strip()
    # A closing run of "#" counts only after white space: "# C#" keeps its "#".
    unclosed = text.rstrip("#")
    if unclosed != text and (not unclosed or unclosed[-1] in " \t"):
        text = unclosed.strip()
    return text
