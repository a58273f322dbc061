"""docx to text with python-docx: paragraphs and tables in document order, split at headings.

Headers, footers, footnotes, comments and text boxes are not read.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import docx
from docx.table import Table

from productdemo.services.documents.archive import ZipLimits, check_zip, open_zip
from productdemo.services.documents.errors import CorruptDocument, detail
from productdemo.services.documents.parts import ExtractedPart, section_name, tidy_text


def docx_to_parts(data: bytes, limits: ZipLimits) -> list[ExtractedPart]:
    """One part per heading (and one for the text before the first), in document order.

    Raises:
        UnsafeArchive: the zip would unpack beyond ``limits``; checked before python-docx
            decompresses anything.
        CorruptDocument: the zip or the Word XML inside it cannot be read.
    """
    try:
        archive = open_zip(data, limits)
    except zipfile.BadZipFile as exc:
        raise CorruptDocument(f"the Word document is damaged ({detail(exc)})") from exc
    with archive:
        check_zip(archive, limits)
    # python-docx reports a malformed package with many exception types (KeyError, ValueError,
    # lxml's XMLSyntaxError, its own PackageNotFoundError, ...): a bad file must fail alone.
    try:
        return _Sections().read(docx.Document(io.BytesIO(data)))
    except Exception as exc:
        raise CorruptDocument(f"the Word document could not be read ({detail(exc)})") from exc


class _Sections:
    """Collects paragraphs into parts, starting a new part at each heading."""

    def __init__(self) -> None:
        self._parts: list[ExtractedPart] = []
        self._paragraphs: list[str] = []
        self._section: str | None = None

    def read(self, document: Any) -> list[ExtractedPart]:
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                self._paragraphs.append(_table_text(block))
            elif _is_heading(block):
                self._flush()
                self._section = section_name(block.text) or self._section
                self._paragraphs.append(block.text)
            else:
                self._paragraphs.append(block.text)
        self._flush()
        return self._parts

    def _flush(self) -> None:
        text = tidy_text("\n\n".join(paragraph for paragraph in self._paragraphs if paragraph.strip()))
        if text:
            self._parts.append(ExtractedPart(text, section=self._section))
        self._paragraphs = []


def _is_heading(paragraph: Any) -> bool:
    style = paragraph.style
    name = style.name if style is not None else None
    return isinstance(name, str) and (name.startswith("Heading") or name == "Title")


def _table_text(table: Any) -> str:
    """One line per row, cells joined with " | "; lines inside a cell (nested tables too) with spaces."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # A cell merged across columns is returned once per column it spans; python-docx
            # offers no public identity for it, so compare the underlying XML element.
            if cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(_cell_text(cell).split("\n")).strip())
        rows.append(" | ".join(cells))
    return "\n".join(rows)


def _cell_text(cell: Any) -> str:
    # Recursion through nested tables is bounded by how deep lxml lets XML nest; were it not,
    # the RecursionError would still end as CorruptDocument.
    return "\n".join(
        _table_text(block) if isinstance(block, Table) else block.text for block in cell.iter_inner_content()
    )
