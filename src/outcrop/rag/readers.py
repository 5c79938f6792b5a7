"""The readers that need a parsing library: PDF (pypdfium2), DOCX (python-docx), XLSX (openpyxl), HTML
(trafilatura).

Each library is imported on first use, so Outcrop runs without the `rag` extra until a document needs it,
and then the failure names the package to install.
"""

from __future__ import annotations

import codecs
import io
import itertools
import re
from typing import Any

from outcrop.rag.markdown import markdown_to_text
from outcrop.rag.parse import (
    CorruptDocument,
    ParsedDocument,
    UnsupportedDocument,
    records_text,
    require,
    tidy,
)

# --- PDF ---------------------------------------------------------------------------------------------------


def read_pdf(data: bytes) -> ParsedDocument:
    """Text per page (pages joined by blank lines), with each page's start offset and the /Title."""
    pdfium = require("pypdfium2", "reading PDF")
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise UnsupportedDocument("the PDF is encrypted with a password") from None
        raise CorruptDocument(f"the PDF cannot be opened: {error}") from None
    try:
        title = (pdf.get_metadata_dict().get("Title") or "").strip() or None
        pages: list[str] = []
        for page in pdf:
            textpage = page.get_textpage()
            pages.append(tidy(_page_text(textpage)))
            textpage.close()
            page.close()
    except (pdfium.PdfiumError, ValueError) as error:
        raise CorruptDocument(f"the PDF cannot be read: {error}") from None
    finally:
        pdf.close()
    offsets: list[int] = []
    text = ""
    for page_text in pages:
        if text and page_text:
            text += "\n\n"
        offsets.append(len(text))
        text += page_text
    return ParsedDocument(text, "pdf", title, tuple(offsets))


def _page_text(textpage: Any) -> str:
    """Rejoin a page's hard-wrapped lines into paragraphs, using line geometry where PDFium gives it."""
    raw: str = textpage.get_text_range()
    ended = raw.splitlines(keepends=True)
    if len(ended) < 2:
        return raw
    lines: list[str] = []
    positions: list[tuple[float, float] | None] = []
    index = 0
    exact = len(raw) == textpage.count_chars()  # then text index == char index, and boxes can be looked up
    for with_end in ended:
        line = with_end.rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        box = textpage.get_charbox(index, loose=True) if exact and line else None
        positions.append((box[1], box[3] - box[1]) if box else None)
        lines.append(line)
        index += len(with_end)
    steps = sorted(
        upper[0] - lower[0]
        for upper, lower in itertools.pairwise(positions)
        if upper and lower and upper[0] > lower[0]
    )
    heights = sorted(p[1] for p in positions if p and p[1] > 0)
    # the usual line step is the low end of all steps; with too few lines, fall back to the font height
    step = (
        steps[len(steps) // 5] * 1.4
        if len(steps) >= 3
        else (heights[len(heights) // 2] * 2 if heights else 0)
    )
    typical = sorted(len(line) for line in lines)[round(0.9 * (len(lines) - 1))]
    out = [lines[0]]
    for n in range(1, len(lines)):
        before, line = lines[n - 1].rstrip(), lines[n].lstrip()
        upper, lower = positions[n - 1], positions[n]
        gap = upper[0] - lower[0] if upper and lower else 0.0
        if step and (gap > step or gap < 0):
            out.append("\n\n")
        elif _ends_line(before, line, typical):
            out.append("\n")
        elif before[-1:] in _SOFT_HYPHENS:  # a word PDFium saw hyphenated at the line end
            out[-1] = out[-1].rstrip()[:-1]
        elif before.endswith("-") and before[-2:-1].isalpha() and line[:1].islower():
            out[-1] = out[-1].rstrip()
        else:
            out.append(" ")
        out.append(line)
    return "".join(out)


_SOFT_HYPHENS = ("\x02", "\ufffe", "\u00ad")
_BULLETS = "\u2022\u25e6\u25aa\u25ab\u2023\u2043\u25cf\u25cb\u25a0\u25a1\u27a2\u25ba"


def _ends_line(before: str, line: str, typical: int) -> bool:
    """A short line that ends a sentence or precedes a capitalised one was broken on purpose, not wrapped."""
    if not before or not line or line[0] in _BULLETS:
        return True
    if typical < 40:  # no line is long enough to have been wrapped: slides, tables, forms
        return True
    short = len(before) < 0.75 * typical
    return short and (before[-1] in ".!?:;" or not line[0].islower())


# --- DOCX --------------------------------------------------------------------------------------------------


def read_docx(data: bytes) -> ParsedDocument:
    """Paragraphs, headings, list items and table rows in document order."""
    docx = require("docx", "reading DOCX")
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(document.iter_inner_content())
        title = (document.core_properties.title or "").strip() or None
    except Exception as error:  # zip, package and XML errors alike mean a broken file
        raise CorruptDocument(f"the DOCX cannot be read: {error}") from None
    parts: list[str] = []
    for block in blocks:
        if hasattr(block, "rows"):
            parts.append(_docx_table(block))
            continue
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        if title is None and (style == "Title" or style.startswith("Heading")):
            title = text
        if style.startswith("List"):
            text = ("1. " if "Number" in style else "- ") + text
        parts.append(text)
    return ParsedDocument(tidy(_join_blocks(parts)), "docx", title)


def _docx_table(table: Any) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats once per grid column
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _join_blocks(parts: list[str]) -> str:
    """Blank lines between paragraphs, single newlines between consecutive list items."""
    out: list[str] = []
    for part in parts:
        if out:
            item = part.startswith(("- ", "1. ")) and out[-1].startswith(("- ", "1. "))
            out.append("\n" if item else "\n\n")
        out.append(part)
    return "".join(out)


# --- XLSX --------------------------------------------------------------------------------------------------


def read_xlsx(data: bytes) -> ParsedDocument:
    """Each sheet's rows as labelled records, as CSV files are read; sheets under their names when several."""
    openpyxl = require("openpyxl", "reading XLSX")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # zip, package and XML errors alike mean a broken file
        raise CorruptDocument(f"the XLSX cannot be read: {error}") from None
    try:
        title = (workbook.properties.title or "").strip() or None
        sheets = [
            (sheet.title, [_cells(row) for row in sheet.iter_rows(values_only=True)])
            for sheet in workbook.worksheets
        ]
    finally:
        workbook.close()
    parts = [
        f"{name}\n{text}" if len(sheets) > 1 else text
        for name, rows in sheets
        if (text := records_text(rows))
    ]
    return ParsedDocument(tidy("\n\n".join(parts)), "xlsx", title)


def _cells(row: tuple[Any, ...]) -> list[str]:
    """A row's cell values as text, without the empty cells that pad it to the sheet's width."""
    cells = ["" if value is None else str(value) for value in row]
    while cells and not cells[-1].strip():
        cells.pop()
    return cells


# --- HTML --------------------------------------------------------------------------------------------------


def read_html(data: bytes, charset: str | None = None) -> ParsedDocument:
    """The main content (trafilatura drops navigation, headers, footers), as plain text."""
    trafilatura = require("trafilatura", "reading HTML")
    lxml_html = require("lxml.html", "reading HTML")
    if data.startswith(
        (b"\xff\xfe", b"\xfe\xff")
    ):  # UTF-16 pages: re-encode, libxml2 names codecs its own way
        data = data.decode("utf-16").encode("utf-8")
    try:
        parser = lxml_html.HTMLParser(encoding=_html_charset(data, charset))
        tree = lxml_html.document_fromstring(data, parser=parser)
    except Exception as error:  # lxml raises ParserError, ValueError or XMLSyntaxError for garbage
        raise CorruptDocument(f"the HTML cannot be parsed: {error}") from None
    title = " ".join((tree.findtext(".//title") or "").split()) or None
    extracted = trafilatura.extract(
        tree, output_format="markdown", include_tables=True, include_comments=False, include_links=False
    )
    if extracted and extracted.strip():
        text, heading = markdown_to_text(extracted)
        return ParsedDocument(tidy(text), "html", title or heading)
    return ParsedDocument(_html_fallback(tree), "html", title)


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


def _html_charset(data: bytes, declared: str | None) -> str:
    """The page's own <meta> charset, else the Content-Type's, else UTF-8 when it decodes, else Windows-1252.

    libxml2 guesses Latin-1 for undeclared pages, which garbles the UTF-8 most of the web is written in.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    meta = _META_CHARSET.search(data[:4096])
    for candidate in (meta.group(1).decode("ascii") if meta else None, declared):
        if candidate:
            try:
                return codecs.lookup(candidate).name
            except LookupError:
                continue
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


_BLOCK_TAGS = {"p", "div", "section", "article", "li", "tr", "br", "h1", "h2", "h3", "h4", "h5", "h6", "pre"}


def _html_fallback(tree: Any) -> str:
    """Plain lxml text when trafilatura finds no main content (tiny pages, or pages all 'boilerplate')."""
    for element in tree.xpath("//script|//style|//noscript|//template|//head"):
        element.drop_tree()
    for element in tree.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
    return tidy(re.sub(r"[ \t]+", " ", tree.text_content()))
