"""Real documents, made at test time: docx by python-docx, PDF by fpdf2, zips by zipfile."""

from __future__ import annotations

import io
import random
import zipfile

import docx
import pytest
from fpdf import FPDF
from fpdf.enums import EncryptionMethod

LATIN_1_TEXT = (
    "Le café est très chaud et la crème brûlée est délicieuse. Où est la gare ?\n"
    "Ça va très bien, merci à vous.\n"
)
UTF_16_TEXT = "Grüße aus Köln.\nZweite Zeile: 東京.\n"

HTML_PAGE = """<!DOCTYPE html>
<html><head><title>Release   notes</title>
<style>body { color: red; }</style>
<script>var s = "<p>not text</p>";</script>
</head><body>
<p>Welcome &amp; thanks for
   upgrading.</p>
<noscript>Enable JavaScript.</noscript>
<template><p>A template</p></template>
<h2>Fixes</h2>
<ul><li>Faster <b>search</b></li><li>Fewer crashes</li></ul>
<table><tr><th>Version</th><th>Date</th></tr><tr><td>2.1</td><td>May</td></tr></table>
<pre>line one
line two</pre>
<!-- <p>a comment</p> -->
</body></html>
"""

MARKDOWN = """Preamble line.

# Install ##

Run `pip install`.

```
# not a heading
```

## Use

Call it.
"""

_MB = 1024 * 1024


def make_pdf(*pages: str, user_password: str | None = None, owner_password: str | None = None) -> bytes:
    """A PDF with one page per string (an empty string draws a rectangle and no text)."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 10, text)
        else:
            pdf.rect(20, 20, 50, 50)
    if owner_password is not None:
        # RC4: pypdf and fpdf2 read and write it without the optional cryptography package.
        pdf.set_encryption(
            owner_password=owner_password,
            user_password=user_password,
            encryption_method=EncryptionMethod.RC4,
        )
    return bytes(pdf.output())


def make_zip(members: dict[str, bytes], compresslevel: int | None = None) -> bytes:
    """A deflated zip archive holding ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def docx_bytes() -> bytes:
    """A Word document: a paragraph, a title, headings, and a table with a merged row."""
    document = docx.Document()
    document.add_paragraph("Draft, do not share.")
    document.add_heading("Quarterly report", level=0)
    document.add_paragraph("Prepared for the board.")
    document.add_heading("Results", level=1)
    document.add_paragraph("Revenue grew in every region.")
    table = document.add_table(rows=0, cols=2)
    for region, revenue in [("Region", "Revenue"), ("North", "120"), ("South", "95")]:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = region, revenue
    total = table.add_row().cells
    total[0].merge(total[1]).text = "Total 215"
    document.add_paragraph("")
    document.add_heading("Next steps", level=2)
    document.add_paragraph("Hire two engineers.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def pdf_bytes() -> bytes:
    """A one-page PDF."""
    return make_pdf("Hello from page one.")


@pytest.fixture(scope="session")
def multipage_pdf_bytes() -> bytes:
    """A three-page PDF whose second page has no text."""
    return make_pdf("This is page 1.", "", "This is page 3. It has two sentences.")


@pytest.fixture(scope="session")
def corrupt_pdf_bytes(pdf_bytes: bytes) -> bytes:
    """A real PDF whose header is kept and whose body is replaced with random bytes."""
    garbage = random.Random(7).randbytes(len(pdf_bytes) - 9)
    return pdf_bytes[:9] + garbage


@pytest.fixture(scope="session")
def zip_bomb() -> bytes:
    """A docx-shaped zip whose word/document.xml is 300 MB of zeros, written in 1 MB pieces.

    Compression level 1 keeps building it near one second; the archive is about 1.3 MB.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        zeros = bytes(_MB)
        with archive.open("word/document.xml", "w") as member:
            for _ in range(300):
                member.write(zeros)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def nested_html() -> str:
    """About 10 MB of HTML: 400,000 nested divs around one paragraph, then their end tags."""
    depth = 400_000
    return '<div class="level">' * depth + "<p>Deep text</p>" + "</div>" * depth
