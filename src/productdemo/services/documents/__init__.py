"""The document pipeline's pure core: decide the type, extract the text, cut it into chunks.

No sockets, no database, no event loop: each function takes bytes or parts and returns values,
so the caller runs it where it likes (a worker thread or process) and stores what it returns::

    found = sniff(data, filename)  # UnsupportedType -> 415 at upload
    parts = extract(data, found.kind, encoding=found.encoding, on_progress=report)
    chunks = chunk_parts(parts)
"""

from productdemo.services.documents.archive import DEFAULT_ZIP_LIMITS, ZipLimits
from productdemo.services.documents.chunking import Chunk, chunk_parts
from productdemo.services.documents.errors import (
    CorruptDocument,
    DocumentError,
    EncryptedDocument,
    ExtractionError,
    NoTextFound,
    UnsafeArchive,
    UnsupportedType,
)
from productdemo.services.documents.extract import extract
from productdemo.services.documents.parts import ExtractedPart, ProgressCallback
from productdemo.services.documents.sniff import DocumentKind, SniffResult, sniff

__all__ = [
    "DEFAULT_ZIP_LIMITS",
    "Chunk",
    "CorruptDocument",
    "DocumentError",
    "DocumentKind",
    "EncryptedDocument",
    "ExtractedPart",
    "ExtractionError",
    "NoTextFound",
    "ProgressCallback",
    "SniffResult",
    "UnsafeArchive",
    "UnsupportedType",
    "ZipLimits",
    "chunk_parts",
    "extract",
    "sniff",
]
