"""Real documents built in the tests, so parsing is checked on bytes no parser library wrote itself."""

from __future__ import annotations

import io
import textwrap


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252") + b")"


def make_pdf(pages: list[list[str]], title: str | None = None, width: int = 90) -> bytes:
    """A minimal valid PDF in Helvetica, paragraphs hard-wrapped at `width` characters as real PDFs are."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * n for n in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for paragraphs in pages:
        lines: list[bytes] = [b"BT /F1 10 Tf 13 TL 56 780 Td"]
        for paragraph in paragraphs:
            for line in textwrap.wrap(paragraph, width):
                lines.append(_pdf_string(line) + b" Tj T*")
            lines.append(b"T*")
        lines.append(b"ET")
        stream = b"\n".join(lines)
        page_id = len(objects) + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    info = b"<< /Producer (outcrop tests) >>"
    if title is not None:
        info = b"<< /Title %s /Producer (outcrop tests) >>" % _pdf_string(title)
    objects.append(info)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, len(objects), xref)
    )
    return out.getvalue()


def make_docx() -> bytes:
    """A Word document with a title, headings, a list and a table, written by python-docx."""
    import docx

    document = docx.Document()
    document.add_heading("Quarterly report", 0)
    document.add_heading("Revenue", 1)
    document.add_paragraph("Revenue grew by twelve percent in the third quarter.")
    document.add_paragraph("Cloud services led the growth", style="List Bullet")
    document.add_paragraph("Hardware sales were flat", style="List Bullet")
    document.add_heading("Regions", 1)
    table = document.add_table(rows=3, cols=3)
    values = [("Region", "Q2", "Q3"), ("EMEA", "10", "12"), ("APAC", "7", "9")]
    for row, row_values in zip(table.rows, values, strict=True):
        for cell, value in zip(row.cells, row_values, strict=True):
            cell.text = value
    document.add_paragraph("Outlook remains positive for next year.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_xlsx() -> bytes:
    """A workbook of two sheets (a priced table with a header, and a note), written by openpyxl."""
    import openpyxl

    workbook = openpyxl.Workbook()
    prices = workbook.active
    prices.title = "Prices"
    for row in [("Product", "Price", "Stock"), ("Zephyr X2", 49, 120), ("Zephyr X3", 79.5, None)]:
        prices.append(row)
    notes = workbook.create_sheet("Notes")
    notes.append(["Note"])
    notes.append(["Prices include VAT."])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


ARTICLE_HTML = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Caring for indoor cats</title>
<style>body { color: red; }</style><script>var tracking = "do not index";</script></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/shop">Shop our products</a></li>
<li><a href="/about">About us</a></li></ul></nav>
<header><div class="banner">Subscribe to our newsletter today</div></header>
<main><article>
<h1>Caring for indoor cats</h1>
<p>Indoor cats need daily play. A laser pointer or a feather wand keeps them active, lean and curious
about their surroundings for many years.</p>
<h2>Feeding</h2>
<p>Feed adult cats twice a day. Fresh water must always be available, and bowls should be cleaned every
single day to keep bacteria away from the food.</p>
<ul><li>Wet food in the morning</li><li>Dry food at night</li></ul>
<p>Kittens eat four small meals a day until they are six months old, then move to the adult routine.</p>
</article></main>
<footer><p>Copyright 2024 PetSite. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
</body></html>
"""
