"""Decide a document's type from its content, then check that the file name agrees.

The content decides; the name's extension only chooses between types that content cannot tell
apart (Markdown is plain text) and catches a file that is not what its name says.
"""

from __future__ import annotations

import enum
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import NamedTuple

from productdemo.services.documents._decode import decode_text
from productdemo.services.documents.archive import DEFAULT_ZIP_LIMITS, ZipLimits, check_zip, open_zip
from productdemo.services.documents.errors import UnsupportedType


class DocumentKind(enum.StrEnum):
    """The supported document types; the values are what gets stored."""

    TXT = "txt"
    MD = "md"
    HTML = "html"
    PDF = "pdf"
    DOCX = "docx"

    @property
    def media_type(self) -> str:
        """The MIME type to serve the original file with."""
        return _MEDIA_TYPES[self]


_MEDIA_TYPES = {
    DocumentKind.TXT: "text/plain",
    DocumentKind.MD: "text/markdown",
    DocumentKind.HTML: "text/html",
    DocumentKind.PDF: "application/pdf",
    DocumentKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

_EXTENSIONS = {
    ".txt": DocumentKind.TXT,
    ".text": DocumentKind.TXT,
    ".md": DocumentKind.MD,
    ".markdown": DocumentKind.MD,
    ".html": DocumentKind.HTML,
    ".htm": DocumentKind.HTML,
    ".pdf": DocumentKind.PDF,
    ".docx": DocumentKind.DOCX,
}

_ACCEPTED = "txt, md, html, pdf or docx"

# Only used to say what an unsupported file is; anything else is "binary data".
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.doc, .xls or .ppt)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
)

_DOCX_MEMBERS = ("[Content_Types].xml", "word/document.xml")

# How much of a text is searched for HTML tags.
_HTML_HEAD = 4096
_HTML_TAG = re.compile(
    r"</?(?:html|head|body|title|meta|link|script|style|div|span|p|a|br|img|table|tr|td|ul|ol|li|h[1-6])"
    r"(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SniffResult:
    """What :func:`sniff` found.

    Attributes:
        kind: the document type.
        encoding: the Python codec of a txt, md or html file (pass it on to
            :func:`~.extract.extract`); ``None`` for pdf and docx.
    """

    kind: DocumentKind
    encoding: str | None = None


class _Found(NamedTuple):
    kind: DocumentKind | None  # None: not a supported type
    description: str  # "a PDF document", for reasons
    encoding: str | None = None
    html_document: bool = False  # text that starts like an HTML document


def sniff(data: bytes, filename: str, zip_limits: ZipLimits = DEFAULT_ZIP_LIMITS) -> SniffResult:
    """Decide the type of an uploaded document from its content and its name.

    Args:
        data: the whole file.
        filename: the name it was uploaded with; only its extension is used. Without an
            extension the content alone decides (html or txt for text).
        zip_limits: the zip bomb limits, checked here too so that a bomb is refused at upload.

    Returns:
        The type, and the text encoding for text types.

    Raises:
        UnsupportedType: the extension or the content is not a supported type, or they disagree
            (a ``.pdf`` name on a zip, a ``.txt`` name on an HTML document).
        UnsafeArchive: a docx whose zip would unpack beyond ``zip_limits``.
    """
    extension = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    claimed = _EXTENSIONS.get(extension)
    if extension and claimed is None:
        raise UnsupportedType(f"{_shown(extension)} files are not supported; upload {_ACCEPTED}")
    found = _inspect(data, zip_limits)
    if found.kind is None:
        if claimed is None:
            raise UnsupportedType(f"the content is {found.description}, not {_ACCEPTED}")
        raise _mismatch(extension, found)
    if found.kind in (DocumentKind.PDF, DocumentKind.DOCX):
        if claimed not in (None, found.kind):
            raise _mismatch(extension, found)
        return SniffResult(found.kind)
    # The content is text; the name decides between txt, md and html.
    if claimed in (DocumentKind.PDF, DocumentKind.DOCX):
        raise _mismatch(extension, found)
    if found.html_document and claimed in (DocumentKind.TXT, DocumentKind.MD):
        raise _mismatch(extension, found)
    return SniffResult(claimed or found.kind, found.encoding)


def _inspect(data: bytes, zip_limits: ZipLimits) -> _Found:
    if data.startswith(b"%PDF-"):
        return _Found(DocumentKind.PDF, "a PDF document")
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _inspect_zip(data, zip_limits)
    decoded = decode_text(data)
    if decoded is None:
        description = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
        return _Found(None, description or "binary data of an unknown type")
    head = decoded.text[:_HTML_HEAD]
    if _starts_like_html_document(head):
        return _Found(DocumentKind.HTML, "an HTML document", decoded.encoding, html_document=True)
    if _HTML_TAG.search(head):
        return _Found(DocumentKind.HTML, "HTML", decoded.encoding)
    return _Found(DocumentKind.TXT, "plain text", decoded.encoding)


def _inspect_zip(data: bytes, zip_limits: ZipLimits) -> _Found:
    try:
        archive = open_zip(data, zip_limits)
    except zipfile.BadZipFile:
        return _Found(None, "a damaged ZIP archive")
    with archive:
        names = set(archive.namelist())
        if not all(name in names for name in _DOCX_MEMBERS):
            return _Found(None, "a ZIP archive that is not a Word document")
        check_zip(archive, zip_limits)
    return _Found(DocumentKind.DOCX, "a Word document (docx)")


def _starts_like_html_document(head: str) -> bool:
    """Whether the text opens, after white space and comments, with a doctype or <html>."""
    rest = head.lstrip()
    while rest.startswith("<!--"):
        end = rest.find("-->")
        if end < 0:
            return False
        rest = rest[end + 3 :].lstrip()
    # An XHTML file may open with an XML declaration.
    if rest.startswith("<?xml"):
        rest = rest[rest.find(">") + 1 :].lstrip()
    rest = rest[:15].lower()
    return rest.startswith("<!doctype html") or re.match(r"<html[\s>]", rest) is not None


def _mismatch(extension: str, found: _Found) -> UnsupportedType:
    return UnsupportedType(f"the name says {_shown(extension)} but the content is {found.description}")


def _shown(extension: str) -> str:
    # The extension comes from the uploader; keep a reason short whatever it is.
    return extension if len(extension) <= 16 else extension[:15] + "…"
