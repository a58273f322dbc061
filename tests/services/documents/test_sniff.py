"""Sniffing: the content decides the type, the extension must agree."""

from __future__ import annotations

import pytest

from productdemo.services.documents import (
    DocumentKind,
    SniffResult,
    UnsafeArchive,
    UnsupportedType,
    ZipLimits,
    sniff,
)
from tests.services.documents.conftest import HTML_PAGE, LATIN_1_TEXT, UTF_16_TEXT, make_zip

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100)
BINARY = bytes(range(256)) * 4
DAMAGED_ZIP = b"PK\x03\x04" + bytes(200)


def refusal(data: bytes, filename: str) -> str:
    """The reason ``sniff`` gives for refusing ``data`` named ``filename``."""
    with pytest.raises(UnsupportedType) as caught:
        sniff(data, filename)
    return caught.value.reason


def test_pdf(pdf_bytes: bytes) -> None:
    """A PDF named .pdf is a PDF, with no encoding."""
    assert sniff(pdf_bytes, "report.pdf") == SniffResult(DocumentKind.PDF)


def test_docx(docx_bytes: bytes) -> None:
    """A Word document named .docx is a docx."""
    assert sniff(docx_bytes, "report.docx") == SniffResult(DocumentKind.DOCX)


def test_extension_case_and_windows_path_are_ignored(pdf_bytes: bytes) -> None:
    """An upper-case extension at the end of a Windows path still names a PDF."""
    assert sniff(pdf_bytes, "C:\\Users\\ada\\REPORT.PDF") == SniffResult(DocumentKind.PDF)


def test_content_decides_without_extension(pdf_bytes: bytes, docx_bytes: bytes) -> None:
    """Without an extension, PDF, docx, an HTML document and plain text are told apart by content."""
    assert sniff(pdf_bytes, "report") == SniffResult(DocumentKind.PDF)
    assert sniff(docx_bytes, "report") == SniffResult(DocumentKind.DOCX)
    assert sniff(HTML_PAGE.encode(), "page") == SniffResult(DocumentKind.HTML, "utf-8")
    assert sniff(b"just words\n", "README") == SniffResult(DocumentKind.TXT, "utf-8")


def test_html_tags_without_doctype_make_html_when_unnamed() -> None:
    """Text with common HTML tags near its start is HTML when the name has no extension."""
    assert sniff(b"Notes\n<p>first</p>\n", "notes") == SniffResult(DocumentKind.HTML, "utf-8")


def test_html_document_after_bom_and_comments() -> None:
    """A byte-order mark, white space and comments before the doctype don't hide an HTML document."""
    data = b"\xef\xbb\xbf \n<!-- generated --><!---->\n<!DOCTYPE html><p>x</p>"
    assert sniff(data, "page") == SniffResult(DocumentKind.HTML, "utf-8-sig")


def test_extension_chooses_markdown_and_html() -> None:
    """The same text is md when named .md, html when named .htm, txt when named .txt."""
    text = b"# Title\n\nSome <b>bold</b> words.\n"
    assert sniff(text, "notes.md") == SniffResult(DocumentKind.MD, "utf-8")
    assert sniff(text, "notes.markdown") == SniffResult(DocumentKind.MD, "utf-8")
    assert sniff(text, "notes.htm") == SniffResult(DocumentKind.HTML, "utf-8")
    assert sniff(text, "notes.txt") == SniffResult(DocumentKind.TXT, "utf-8")


def test_latin_1_text_is_detected() -> None:
    """French text in Latin-1 is text, decoded with the compatible Windows-1252 code page."""
    assert sniff(LATIN_1_TEXT.encode("latin-1"), "notes.txt") == SniffResult(DocumentKind.TXT, "cp1252")


def test_utf_16_text_is_detected() -> None:
    """UTF-16 text with a byte-order mark is text despite its NUL bytes."""
    assert sniff(UTF_16_TEXT.encode("utf-16"), "notes.txt") == SniffResult(DocumentKind.TXT, "utf-16")


def test_empty_text_file_is_text() -> None:
    """An empty .txt file passes sniffing; extraction reports that it has no text."""
    assert sniff(b"", "empty.txt") == SniffResult(DocumentKind.TXT, "utf-8")


def test_unsupported_extension() -> None:
    """A name with an extension outside the five types is refused, whatever the content."""
    assert refusal(b"hello", "photo.png") == ".png files are not supported; upload txt, md, html, pdf or docx"


def test_overlong_extension_is_shortened_in_the_reason() -> None:
    """An uploader's long extension is cut to 16 characters in the reason."""
    reason = refusal(b"hello", "a." + "x" * 100)
    assert reason == ".xxxxxxxxxxxxxx… files are not supported; upload txt, md, html, pdf or docx"


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (PNG, "photo", "the content is a PNG image, not txt, md, html, pdf or docx"),
        (BINARY, "blob", "the content is binary data of an unknown type, not txt, md, html, pdf or docx"),
        (PNG, "photo.pdf", "the name says .pdf but the content is a PNG image"),
        (BINARY, "report.pdf", "the name says .pdf but the content is binary data of an unknown type"),
        (OLE, "old.docx", "the name says .docx but the content is a legacy Office file (.doc, .xls or .ppt)"),
        (b"plain words\n", "report.pdf", "the name says .pdf but the content is plain text"),
        (b"<p>markup</p>", "report.docx", "the name says .docx but the content is HTML"),
        (HTML_PAGE.encode(), "notes.txt", "the name says .txt but the content is an HTML document"),
        (HTML_PAGE.encode(), "notes.md", "the name says .md but the content is an HTML document"),
        (DAMAGED_ZIP, "report.docx", "the name says .docx but the content is a damaged ZIP archive"),
    ],
)  # fmt: skip
def test_refusals(data: bytes, filename: str, reason: str) -> None:
    """Binary, mismatching or damaged content is refused with a reason naming what it is."""
    assert refusal(data, filename) == reason


def test_pdf_named_docx_is_refused(pdf_bytes: bytes) -> None:
    """A PDF named .docx is refused because the name and the content disagree."""
    assert refusal(pdf_bytes, "report.docx") == "the name says .docx but the content is a PDF document"


def test_docx_named_txt_is_refused(docx_bytes: bytes) -> None:
    """A Word document named .txt is refused because the name and the content disagree."""
    assert refusal(docx_bytes, "notes.txt") == "the name says .txt but the content is a Word document (docx)"


def test_zip_named_pdf_is_refused() -> None:
    """A zip that is not a Word document, named .pdf, is refused as a ZIP archive."""
    data = make_zip({"a.txt": b"hello"})
    assert (
        refusal(data, "report.pdf")
        == "the name says .pdf but the content is a ZIP archive that is not a Word document"
    )


def test_zip_bomb_is_refused_at_upload(zip_bomb: bytes) -> None:
    """A zip bomb shaped like a docx is refused by sniffing, before anything unpacks."""
    with pytest.raises(UnsafeArchive) as caught:
        sniff(zip_bomb, "report.docx")
    assert caught.value.reason == "the archive would unpack to 300 MB; the limit is 200 MB"


def test_zip_with_too_many_members_is_refused_unopened() -> None:
    """A zip with more members than allowed is refused before its directory is parsed."""
    members = {f"word/media/{i}.xml": b"x" for i in range(11)}
    data = make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>", **members})
    with pytest.raises(UnsafeArchive) as caught:
        sniff(data, "report.docx", ZipLimits(max_members=10))
    assert caught.value.reason == "the archive has more than 10 members"


def test_unsupported_type_maps_to_415() -> None:
    """UnsupportedType carries the unsupported_media code, HTTP 415 and a readable str."""
    error = UnsupportedType("the content is a PNG image")
    assert (error.code, error.status, error.reason) == (
        "unsupported_media",
        415,
        "the content is a PNG image",
    )
    assert str(error) == "unsupported_media: the content is a PNG image"
    assert repr(error) == "UnsupportedType('the content is a PNG image')"


def test_media_types() -> None:
    """Each kind names the MIME type to serve the original file with."""
    assert {kind.value: kind.media_type for kind in DocumentKind} == {
        "txt": "text/plain",
        "md": "text/markdown",
        "html": "text/html",
        "pdf": "application/pdf",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }
