"""Why a document was refused or could not be read.

::

    DomainError (productdemo.errors)
    └── DocumentError (reason)       a person-readable reason, shown as the document's failure
        ├── UnsupportedType          unsupported_media (415): not txt, md, html, pdf or docx,
        │                            or the name and the content disagree
        └── ExtractionError          bad_request (400): the type is right but the text can't be read
            ├── CorruptDocument      the file is damaged
            ├── EncryptedDocument    the PDF is password-protected
            ├── NoTextFound          nothing to index, e.g. a PDF of scanned images
            └── UnsafeArchive        too_large (413): a docx whose zip would unpack too large,
                                     too compressed, or into too many members

``UnsupportedType`` comes from :func:`~.sniff.sniff`, at upload time, so it becomes an HTTP
response. ``ExtractionError`` comes from :func:`~.extract.extract`, which runs later in a worker,
so its ``reason`` usually becomes the document's failure message rather than a status code.
"""

from __future__ import annotations

from productdemo.errors import DomainError


class DocumentError(DomainError):
    """Base of the document pipeline's errors; ``reason`` is safe to show to the uploader."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedType(DocumentError):
    """The content is not a supported type, or it is not the type the file name claims."""

    code = "unsupported_media"
    status = 415


class ExtractionError(DocumentError):
    """The document has a supported type but its text cannot be extracted."""

    code = "bad_request"
    status = 400


class CorruptDocument(ExtractionError):
    """The file is damaged or not valid for its type."""


class EncryptedDocument(ExtractionError):
    """The document needs a password to be read."""


class NoTextFound(ExtractionError):
    """The document opened fine but holds no text, e.g. only scanned images."""


class UnsafeArchive(ExtractionError):
    """A zip-based document would unpack beyond the configured limits (a zip bomb)."""

    code = "too_large"
    status = 413


def detail(exc: BaseException) -> str:
    """A third-party exception in a few words, for the end of a reason: ``"KeyError: '/Root'"``."""
    message = str(exc)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
