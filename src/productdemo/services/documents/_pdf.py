"""PDF to text with pypdf, page by page, reporting progress after each page."""

from __future__ import annotations

import io

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from productdemo.services.documents.errors import (
    CorruptDocument,
    EncryptedDocument,
    NoTextFound,
    detail,
)
from productdemo.services.documents.parts import ExtractedPart, ProgressCallback, tidy_text


def pdf_to_parts(data: bytes, on_progress: ProgressCallback | None = None) -> list[ExtractedPart]:
    """One part per page that has text, numbered from 1.

    Raises:
        CorruptDocument: pypdf cannot read the file or one of its pages.
        EncryptedDocument: the PDF needs a password to open.
        NoTextFound: no page has text, as in a PDF of scanned images.
    """
    # pypdf reports malformed input with many exception types besides PdfReadError (KeyError,
    # ValueError, TypeError, AssertionError, RecursionError, ...), so each call into it that
    # parses is guarded with a broad except: a bad file must fail alone, as CorruptDocument.
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:
        raise CorruptDocument(f"the PDF is damaged ({detail(exc)})") from exc
    if encrypted:
        _unlock(reader)
    try:
        total = len(reader.pages)
    except Exception as exc:
        raise CorruptDocument(f"the PDF is damaged ({detail(exc)})") from exc
    if total == 0:
        raise CorruptDocument("the PDF has no pages")
    parts = []
    for number in range(1, total + 1):
        try:
            text = tidy_text(reader.pages[number - 1].extract_text())
        except Exception as exc:
            raise CorruptDocument(f"page {number} of the PDF is damaged ({detail(exc)})") from exc
        if text:
            parts.append(ExtractedPart(text, page=number))
        # Outside the try: an exception from the callback (to cancel, say) propagates as it is.
        if on_progress is not None:
            on_progress(number, total)
    if not parts:
        raise NoTextFound("no extractable text (scanned images?)")
    return parts


def _unlock(reader: PdfReader) -> None:
    """Open a PDF that is encrypted but has an empty user password, as many "protected" PDFs do."""
    try:
        unlocked = reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except DependencyError as exc:
        # AES needs the cryptography package; RC4 does not.
        raise EncryptedDocument(f"the PDF is encrypted in a way this server cannot read ({exc})") from exc
    except Exception as exc:
        raise CorruptDocument(f"the PDF's encryption is damaged ({detail(exc)})") from exc
    if not unlocked:
        raise EncryptedDocument("the PDF is password-protected")
