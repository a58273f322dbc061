"""Real documents made at test time: PDFs with fpdf2 (and pypdf for encryption), docx with python-docx."""

from __future__ import annotations

import io

from docx import Document as DocxDocument
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter


def pdf(pages: list[str]) -> bytes:
    """A PDF with one page per string."""
    doc = FPDF()
    doc.set_font("helvetica", size=12)
    for text in pages:
        doc.add_page()
        doc.multi_cell(0, 8, text)
    return bytes(doc.output())


def long_pdf(pages: int, words_per_page: int = 200) -> bytes:
    """A PDF of ``pages`` copies of one full page: slow to extract, quick to make."""
    page = PdfReader(io.BytesIO(pdf([" ".join(["words"] * words_per_page)]))).pages[0]
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(text: str = "secret text") -> bytes:
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf([text]))).pages:
        writer.add_page(page)
    writer.encrypt("open sesame")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(heading: str, paragraphs: list[str]) -> bytes:
    doc = DocxDocument()
    doc.add_heading(heading, level=1)
    for text in paragraphs:
        doc.add_paragraph(text)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
