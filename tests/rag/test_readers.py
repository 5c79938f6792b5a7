from __future__ import annotations

import io
import time
import zipfile

import pytest

from outcrop.rag import CorruptDocument, DocumentError, UnsupportedDocument, parse_document
from tests.rag.documents import ARTICLE_HTML, make_docx, make_pdf, make_xlsx

LONG_SENTENCE = (
    "The glacier retreated four kilometres over the last century, exposing bedrock that geologists now "
    "sample every summer to date the ice ages."
)


def test_multi_page_pdf_keeps_pages_titles_and_paragraphs() -> None:
    pages = [
        ["Glaciers", LONG_SENTENCE, "Meltwater feeds the valley rivers."],
        ["Volcanoes", "Basalt flows cooled into hexagonal columns along the coast."],
        ["Deserts", "Dunes migrate downwind a few metres each year."],
    ]
    parsed = parse_document(make_pdf(pages, title="Field notes"), "notes.pdf")
    assert parsed.format == "pdf"
    assert parsed.title == "Field notes"
    assert len(parsed.page_offsets) == 3
    assert LONG_SENTENCE in parsed.text  # hard-wrapped lines are joined back into one paragraph
    assert "Glaciers\n\n" in parsed.text
    for number, marker in enumerate(["Meltwater", "Basalt", "Dunes"], start=1):
        assert parsed.page_at(parsed.text.index(marker)) == number
    assert parsed.text[parsed.page_offsets[1] :].startswith("Volcanoes")


def test_a_36_page_pdf_parses_quickly() -> None:
    pages = [[f"Chapter {n}", LONG_SENTENCE * 6, LONG_SENTENCE * 4] for n in range(36)]
    data = make_pdf(pages)
    began = time.perf_counter()
    parsed = parse_document(data, "book.pdf")
    assert time.perf_counter() - began < 3.0
    assert len(parsed.page_offsets) == 36
    assert parsed.page_at(parsed.text.index("Chapter 35")) == 36


def test_corrupt_pdfs_are_corrupt_documents() -> None:
    with pytest.raises(CorruptDocument, match="cannot be opened"):
        parse_document(b"%PDF-1.7\n" + bytes(range(256)) * 8, "broken.pdf")
    with pytest.raises(CorruptDocument, match="%PDF header"):
        parse_document(b"just some text", "fake.pdf")


def test_pdf_is_recognised_by_its_bytes_whatever_its_name() -> None:
    parsed = parse_document(make_pdf([["Content sniffed from bytes."]]), "download", "binary/octet-stream")
    assert parsed.format == "pdf"
    assert parsed.text == "Content sniffed from bytes."


def test_docx_reads_headings_lists_and_table_cells_in_order() -> None:
    parsed = parse_document(make_docx(), "report.docx")
    assert parsed.format == "docx"
    assert parsed.title == "Quarterly report"
    text = parsed.text
    assert "Revenue\n\nRevenue grew by twelve percent" in text
    assert "- Cloud services led the growth\n- Hardware sales were flat" in text
    assert "Region | Q2 | Q3\nEMEA | 10 | 12\nAPAC | 7 | 9" in text
    assert text.index("Regions") < text.index("EMEA") < text.index("Outlook remains positive")


def test_broken_docx_packages_are_corrupt() -> None:
    with pytest.raises(CorruptDocument):
        parse_document(b"not a zip at all", "report.docx")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("word/document.xml", "<not-closed")
    with pytest.raises(CorruptDocument):
        parse_document(archive.getvalue(), "report.docx")
    original = zipfile.ZipFile(io.BytesIO(make_docx()))
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as zipped:
        for name in original.namelist():
            body = b"<w:document><unclosed" if name == "word/document.xml" else original.read(name)
            zipped.writestr(name, body)
    with pytest.raises(CorruptDocument, match="cannot be read"):
        parse_document(broken.getvalue(), "report.docx")


def test_xlsx_reads_each_sheet_as_labelled_records() -> None:
    parsed = parse_document(make_xlsx(), "prices.xlsx")
    assert parsed.format == "xlsx"
    assert parsed.text == (
        "Prices\nProduct: Zephyr X2; Price: 49; Stock: 120\nProduct: Zephyr X3; Price: 79.5\n\n"
        "Notes\nNote: Prices include VAT."
    )
    assert parse_document(make_xlsx(), "no-extension").format == "xlsx"  # sniffed from the package
    with pytest.raises(CorruptDocument, match="not an XLSX"):
        parse_document(b"Product,Price", "prices.xlsx")


def test_html_keeps_the_article_and_drops_boilerplate() -> None:
    parsed = parse_document(ARTICLE_HTML, "cats.html")
    assert parsed.format == "html"
    assert parsed.title == "Caring for indoor cats"
    assert "Feed adult cats twice a day." in parsed.text
    assert "- Wet food in the morning" in parsed.text
    assert "Feeding\n\n" in parsed.text
    for boilerplate in ("Shop our products", "About us", "All rights reserved", "tracking", "color: red"):
        assert boilerplate not in parsed.text


def test_html_falls_back_to_plain_text_when_trafilatura_finds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trafilatura

    monkeypatch.setattr(trafilatura, "extract", lambda *args, **kwargs: None)
    parsed = parse_document(ARTICLE_HTML, "cats.htm")
    assert "Feed adult cats twice a day." in parsed.text
    assert "tracking" not in parsed.text and "color: red" not in parsed.text
    assert "Wet food in the morning\nDry food at night" in parsed.text


@pytest.mark.parametrize(
    ("encoding", "head", "content_type"),
    [
        ("utf-8", "", None),
        ("cp1252", "", None),
        ("latin-1", '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">', None),
        ("latin-1", "", "text/html; charset=ISO-8859-1"),
        ("utf-16", "", None),
        ("utf-8-sig", '<meta charset="utf-8">', "text/html; charset=bogus"),
    ],
)
def test_html_encodings_are_honoured(encoding: str, head: str, content_type: str | None) -> None:
    body = "Crème brûlée and a naïve café au lait are served every morning in the garden. " * 4
    page = f"<html><head>{head}<title>Café</title></head><body><article><p>{body}</p></article></body></html>"
    parsed = parse_document(page.encode(encoding), "menu.html", content_type)
    assert parsed.title == "Café"
    assert parsed.text.startswith("Crème brûlée and a naïve café au lait")


def test_html_is_sniffed_without_an_extension() -> None:
    parsed = parse_document(ARTICLE_HTML, "index", "text/html; charset=utf-8")
    assert parsed.format == "html"
    assert parse_document(ARTICLE_HTML, "page").format == "html"


def test_a_missing_parser_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pypdfium2", None)
    with pytest.raises(UnsupportedDocument, match=r"outcrop\[rag\]") as caught:
        parse_document(make_pdf([["text"]]), "a.pdf")
    assert isinstance(caught.value, DocumentError)
