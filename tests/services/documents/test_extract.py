"""Extraction: text with its page or section, and clear failures for bad documents."""

from __future__ import annotations

import io
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from productdemo.services.documents import (
    CorruptDocument,
    DocumentKind,
    EncryptedDocument,
    ExtractedPart,
    ExtractionError,
    NoTextFound,
    UnsafeArchive,
    ZipLimits,
    extract,
    sniff,
)
from tests.services.documents.conftest import (
    HTML_PAGE,
    LATIN_1_TEXT,
    MARKDOWN,
    UTF_16_TEXT,
    make_pdf,
    make_zip,
)


def failure(error: type[ExtractionError], data: bytes, kind: str, limits: ZipLimits | None = None) -> str:
    """The reason ``extract`` gives when it fails with ``error``."""
    with pytest.raises(error) as caught:
        if limits is None:
            extract(data, kind)
        else:
            extract(data, kind, zip_limits=limits)
    return caught.value.reason


def test_latin_1_text() -> None:
    """Latin-1 text is decoded correctly and its trailing line end is stripped."""
    assert extract(LATIN_1_TEXT.encode("latin-1"), "txt") == [ExtractedPart(LATIN_1_TEXT.strip())]


def test_utf_16_text_with_the_encoding_from_sniffing() -> None:
    """UTF-16 text is decoded with the encoding sniffing found."""
    data = UTF_16_TEXT.encode("utf-16")
    found = sniff(data, "notes.txt")
    assert extract(data, found.kind, found.encoding) == [
        ExtractedPart("Grüße aus Köln.\nZweite Zeile: 東京.")
    ]


def test_text_is_tidied() -> None:
    """Line ends become line feeds, trailing spaces and control characters go, blank runs shrink."""
    data = b"  first  \r\nsecond\x02 line\r\n\r\n\r\n\r\nthird\fpage\n"
    assert extract(data, "txt") == [ExtractedPart("first\nsecond line\n\nthird\npage")]


def test_binary_data_is_not_text() -> None:
    """Bytes that are not text fail as a corrupt text file."""
    reason = failure(CorruptDocument, bytes(range(256)), "txt")
    assert reason == "the file is not text in any encoding this server knows"


def test_empty_text_has_no_text() -> None:
    """A file of white space fails with no extractable text."""
    assert failure(NoTextFound, b" \n\t\n", "txt") == "no extractable text"


def test_markdown_sections() -> None:
    """Markdown splits at # headings, not at # lines inside fenced code, and keeps its syntax."""
    assert extract(MARKDOWN.encode(), "md") == [
        ExtractedPart("Preamble line."),
        ExtractedPart("# Install ##\n\nRun `pip install`.\n\n```\n# not a heading\n```", section="Install"),
        ExtractedPart("## Use\n\nCall it.", section="Use"),
    ]


def test_html_drops_scripts_styles_templates_and_noscript() -> None:
    """HTML keeps visible text only, splits at headings and names the first part after the title."""
    assert extract(HTML_PAGE.encode(), DocumentKind.HTML) == [
        ExtractedPart("Welcome & thanks for upgrading.", section="Release notes"),
        ExtractedPart(
            "Fixes\n\nFaster search\nFewer crashes\n\nVersion | Date\n2.1 | May\n\nline one\nline two",
            section="Fixes",
        ),
    ]


def test_html_edge_cases() -> None:
    """Quoted ">" in attributes, "a < b", line breaks, entities and unclosed script are handled."""
    page = (
        '<p title="x > y">a &lt; b and a < b</p><div>one<br>two<BR/>three</div>'
        "<SCRIPT>document.write('<p>never</p>')"
    )
    assert extract(page.encode(), "html") == [ExtractedPart("a < b and a < b\n\none\ntwo\nthree")]


def test_html_of_10_mb_nesting(nested_html: str) -> None:
    """400,000 nested elements (10 MB) come out as their one paragraph, without recursion."""
    data = nested_html.encode()
    assert len(data) == 10_000_016
    assert extract(data, "html") == [ExtractedPart("Deep text")]


def test_html_that_is_quadratic_for_html_parser() -> None:
    """An unclosed comment before a million "<a " (CVE-2025-6069's shape) ends the text at once."""
    page = "<p>Before</p><!--" + "<a " * 1_000_000
    assert extract(page.encode(), "html") == [ExtractedPart("Before")]


def test_html_with_only_markup_has_no_text() -> None:
    """An HTML page whose only text is in a script fails with no extractable text."""
    page = b"<html><head><script>alert(1)</script></head><body></body></html>"
    assert failure(NoTextFound, page, "html") == "no extractable text"


def test_pdf_single_page(pdf_bytes: bytes) -> None:
    """A one-page PDF gives one part on page 1."""
    assert extract(pdf_bytes, "pdf") == [ExtractedPart("Hello from page one.", page=1)]


def test_pdf_pages_and_progress(multipage_pdf_bytes: bytes) -> None:
    """Each page with text is a part numbered from 1, and progress is reported after every page."""
    progress: list[tuple[int, int]] = []
    parts = extract(
        multipage_pdf_bytes, "pdf", on_progress=lambda done, total: progress.append((done, total))
    )
    assert parts == [
        ExtractedPart("This is page 1.", page=1),
        ExtractedPart("This is page 3. It has two sentences.", page=3),
    ]
    assert progress == [(1, 3), (2, 3), (3, 3)]


def test_progress_callback_can_cancel(multipage_pdf_bytes: bytes) -> None:
    """An exception raised by on_progress stops the extraction and reaches the caller unchanged."""

    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Cancelled(done, total)

    with pytest.raises(Cancelled) as caught:
        extract(multipage_pdf_bytes, "pdf", on_progress=cancel)
    assert caught.value.args == (1, 3)


def test_progress_for_other_types_is_one_step() -> None:
    """Types without pages report progress once, as (1, 1), when done."""
    progress: list[tuple[int, int]] = []
    extract(b"words", "txt", on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(1, 1)]


def test_password_protected_pdf() -> None:
    """A PDF that needs a user password fails as password-protected."""
    data = make_pdf("Secret.", user_password="secret", owner_password="owner")
    assert failure(EncryptedDocument, data, "pdf") == "the PDF is password-protected"


def test_pdf_with_only_an_owner_password_is_read() -> None:
    """A PDF encrypted with an empty user password opens without asking anyone."""
    data = make_pdf("Readable.", owner_password="owner")
    assert extract(data, "pdf") == [ExtractedPart("Readable.", page=1)]


def test_pdf_without_text() -> None:
    """A PDF whose pages hold only drawings fails with no extractable text."""
    assert failure(NoTextFound, make_pdf("", ""), "pdf") == "no extractable text (scanned images?)"


def test_corrupt_pdf(corrupt_pdf_bytes: bytes) -> None:
    """A PDF whose body is garbage fails as damaged, naming pypdf's complaint."""
    reason = failure(CorruptDocument, corrupt_pdf_bytes, "pdf")
    assert reason == "the PDF is damaged (PdfStreamError: Stream has ended unexpectedly)"


def test_truncated_pdf(pdf_bytes: bytes) -> None:
    """A PDF cut in half fails as damaged."""
    reason = failure(CorruptDocument, pdf_bytes[: len(pdf_bytes) // 2], "pdf")
    assert reason == "the PDF is damaged (PdfStreamError: Stream has ended unexpectedly)"


def test_docx_paragraphs_tables_and_headings(docx_bytes: bytes) -> None:
    """docx text comes in document order, split at headings, with table rows as lines of cells."""
    assert extract(docx_bytes, "docx") == [
        ExtractedPart("Draft, do not share."),
        ExtractedPart("Quarterly report\n\nPrepared for the board.", section="Quarterly report"),
        ExtractedPart(
            "Results\n\nRevenue grew in every region.\n\n"
            "Region | Revenue\nNorth | 120\nSouth | 95\nTotal 215",
            section="Results",
        ),
        ExtractedPart("Next steps\n\nHire two engineers.", section="Next steps"),
    ]


def test_docx_zip_bomb(zip_bomb: bytes) -> None:
    """A docx-shaped zip declaring 300 MB is refused before python-docx opens it."""
    assert (
        failure(UnsafeArchive, zip_bomb, "docx") == "the archive would unpack to 300 MB; the limit is 200 MB"
    )


def test_docx_member_compressed_too_well() -> None:
    """A member of 2 MB of zeros is refused for its compression ratio, computed from the zip."""
    data = make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": bytes(2 * 1024 * 1024)}, 9)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("word/document.xml")
    ratio = info.file_size / info.compress_size
    reason = failure(UnsafeArchive, data, "docx")
    assert (
        reason == f"the archive member 'word/document.xml' would expand {ratio:.0f} times; the limit is 100"
    )


def test_docx_with_too_many_members(docx_bytes: bytes) -> None:
    """A docx with more members than the limit passed in is refused."""
    limits = ZipLimits(max_members=5)
    assert failure(UnsafeArchive, docx_bytes, "docx", limits) == "the archive has more than 5 members"


def test_docx_with_broken_xml(docx_bytes: bytes) -> None:
    """A docx whose document.xml is not well-formed fails as unreadable, naming the XML error."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes))
    members = {name: source.read(name) for name in source.namelist()}
    data = make_zip(members | {"word/document.xml": b"<w:document><unclosed>"})
    assert failure(CorruptDocument, data, "docx") == (
        "the Word document could not be read (XMLSyntaxError: Namespace prefix w on document is not "
        "defined, line 1, column 12 (<string>, line 1))"
    )


def test_damaged_zip_as_docx() -> None:
    """Bytes that are not a zip fail as a damaged Word document."""
    reason = failure(CorruptDocument, b"PK\x03\x04" + bytes(100), "docx")
    assert reason == "the Word document is damaged (BadZipFile: File is not a zip file)"


def test_extraction_in_worker_threads(pdf_bytes: bytes, docx_bytes: bytes) -> None:
    """Extractions running at once in a thread pool give the same parts as one at a time."""
    jobs = [(pdf_bytes, "pdf"), (docx_bytes, "docx"), (HTML_PAGE.encode(), "html")] * 2
    expected = [extract(data, kind) for data, kind in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda job: extract(*job), jobs)) == expected


def test_extraction_errors_map_to_4xx() -> None:
    """Extraction errors are bad_request (400), except an unsafe archive, which is too_large (413)."""
    assert (CorruptDocument("x").code, CorruptDocument("x").status) == ("bad_request", 400)
    assert (UnsafeArchive("x").code, UnsafeArchive("x").status) == ("too_large", 413)
