"""Page layout and document decoding without OCR: tables (with merged cells), key/value layouts, formats."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from outcrop.backends.vision import Box, CorruptImage, ImageTooLarge, Line, UnsupportedFormat, Word
from outcrop.backends.vision.images import decode_image, document_pages, sniff
from outcrop.backends.vision.layout import (
    find_key_values,
    find_selections,
    find_tables,
    place_selections,
    without_marks,
)
from tests.fixtures.vision.documents import INVOICE_LINES, encoded, invoice_image, invoice_text_pdf

W, H = 800, 600


def line(text: str, left: float, top: float, height: float = 0.03) -> Line:
    """A read line whose words are laid out by character count (1% of the page width per character)."""
    words, x = [], left
    for token in text.split():
        width = 0.01 * len(token)
        words.append(Word(token, Box(x, top, width, height).corners(), 0.95))
        x += width + 0.01
    return Line(text, Box(left, top, x - 0.01 - left, height).corners(), 0.95, words)


def test_ruled_table_with_a_merged_header() -> None:
    page = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(page)
    xs, ys = [100, 300, 500, 700], [100, 160, 220, 280]
    for y in ys:
        draw.line([(xs[0], y), (xs[-1], y)], fill="black", width=2)
    for x in xs:
        # The first row has no rule between columns 1 and 2: its first cell spans both.
        top = ys[1] if x == xs[1] else ys[0]
        draw.line([(x, top), (x, ys[-1])], fill="black", width=2)
    lines = [
        line("Region", 0.2, 0.2),
        line("Total", 0.7, 0.2),
        line("North", 0.15, 0.3),
        line("12", 0.7, 0.3),
    ]
    (table,) = find_tables(np.asarray(page), lines)
    assert (table.rows, table.columns) == (3, 3)
    (merged,) = table.merged
    assert (merged.row, merged.column, merged.row_span, merged.column_span) == (1, 1, 1, 2)
    texts = {(c.row, c.column): " ".join(w.text for w in c.words) for c in table.cells}
    assert texts[(1, 1)] == "Region" and texts[(1, 2)] == "" and texts[(1, 3)] == "Total"
    assert texts[(2, 1)] == "North" and texts[(2, 3)] == "12"
    assert abs(table.box.left - 100 / W) < 0.01 and abs(table.box.bottom - 280 / H) < 0.01


def test_key_values_beside_and_below() -> None:
    lines = [
        line("Name:", 0.1, 0.1),
        line("Ada Lovelace", 0.3, 0.1),
        line("Address:", 0.1, 0.2),
        line("12 Analytical Row", 0.1, 0.24),
        line("Phone: 555 0100", 0.1, 0.4),
        line("Plain sentence without a key", 0.1, 0.5),
    ]
    pairs = {
        " ".join(w.text for w in kv.key): " ".join(w.text for w in kv.value)
        for kv in find_key_values(lines, [])
    }
    assert pairs == {"Name:": "Ada Lovelace", "Address:": "12 Analytical Row", "Phone:": "555 0100"}


def test_formats_are_told_apart() -> None:
    png = encoded(invoice_image(), "PNG")
    assert sniff(png) == "png" and sniff(encoded(invoice_image(), "JPEG")) == "jpeg"
    assert sniff(encoded(invoice_image(), "TIFF")) == "tiff" and sniff(invoice_text_pdf()) == "pdf"
    assert decode_image(png).shape == (600 * 4 // 3, 1000, 3)
    with pytest.raises(CorruptImage):
        decode_image(png[:100])
    with pytest.raises(UnsupportedFormat):
        decode_image(b"GIF89a")
    with pytest.raises(CorruptImage):
        document_pages(b"%PDF-1.4 nothing else")
    with pytest.raises(ImageTooLarge):
        decode_image(encoded(Image.new("L", (12_000, 10)), "PNG"))


def test_multipage_tiff_and_pdf_text_layer() -> None:
    buffer = io.BytesIO()
    invoice_image().save(buffer, format="TIFF", save_all=True, append_images=[invoice_image()])
    assert len(document_pages(buffer.getvalue())) == 2
    with pytest.raises(UnsupportedFormat):
        document_pages(buffer.getvalue(), max_pages=1)
    (page,) = document_pages(invoice_text_pdf())
    assert page.text_layer is not None and page.text_layer.source == "pdf"
    assert set(INVOICE_LINES) <= {ln.text for ln in page.text_layer.lines}
    assert document_pages(encoded(invoice_image(), "PDF"))[0].text_layer is None  # a scan: OCR reads it


def test_table_without_rules_found_by_alignment() -> None:
    lines = [line("Order: 77", 0.1, 0.05)]
    rows = [("Item", "Qty", "Price"), ("Bolt", "12", "0.10"), ("Nut", "200", "0.05"), ("Washer", "7", "0.02")]
    for r, (item, qty, price) in enumerate(rows):
        top = 0.2 + r * 0.05
        lines += [line(item, 0.1, top), line(qty, 0.4, top), line(price, 0.6, top)]
    lines += [
        line("Thanks for your order", 0.1, 0.6),
        line("Two lines", 0.1, 0.7),
        line("not a table", 0.5, 0.7),
    ]
    blank = np.full((H, W, 3), 255, np.uint8)
    (table,) = find_tables(blank, lines)
    assert table.kind == "SEMI_STRUCTURED_TABLE" and (table.rows, table.columns) == (4, 3)
    grid = [[" ".join(w.text for w in c.words) for c in table.cells[r * 3 : r * 3 + 3]] for r in range(4)]
    assert grid == [list(row) for row in rows]
    assert [" ".join(w.text for w in kv.key) for kv in find_key_values(lines, [table])] == ["Order:"]


def test_check_boxes_ticked_or_not_take_the_label_beside_them() -> None:
    page = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(page)
    draw.rectangle([80, 100, 104, 124], outline="black", width=3)
    draw.line([(84, 112), (91, 120), (101, 104)], fill="black", width=4)
    draw.rectangle([80, 200, 104, 224], outline="black", width=3)
    draw.text((300, 300), "O", fill="black")  # a letter is not a box
    lines = [line("Paid", 0.16, 0.17), line("Overdue", 0.16, 0.335), line("O", 0.37, 0.5)]
    misread = Word("1", Box(0.125, 0.17, 0.008, 0.035).corners(), 0.5)  # the ticked box read as text
    lines.append(Line("1", misread.polygon, 0.5, [misread]))
    selections = find_selections(np.asarray(page), lines)
    assert sorted((round(s.box.top, 1), s.selected) for s in selections) == [(0.2, True), (0.3, False)]
    kept = without_marks(lines, selections)
    assert [ln.text for ln in kept] == ["Paid", "Overdue", "O"]
    pairs = find_key_values(kept, [], selections)
    assert [(kv.key[0].text, kv.selection.selected if kv.selection else None) for kv in pairs] == [
        ("Paid", True),
        ("Overdue", False),
    ]


def test_check_boxes_in_table_cells_belong_to_the_cells() -> None:
    page = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(page)
    for y in (100, 160, 220):
        draw.line([(100, y), (500, y)], fill="black", width=2)
    for x in (100, 300, 500):
        draw.line([(x, 100), (x, 220)], fill="black", width=2)
    draw.rectangle([380, 118, 402, 140], fill="black")  # a filled box in row 1, column 2
    draw.rectangle([600, 300, 622, 322], outline="black", width=3)  # one outside the table
    lines = [line("Shipped", 0.15, 0.2), line("Label", 0.8, 0.5)]
    selections = find_selections(np.asarray(page), lines)
    (table,) = find_tables(np.asarray(page), lines)
    (loose,) = place_selections([table], selections)
    assert loose.box.left > 0.7 and not loose.selected
    (cell,) = [c for c in table.cells if c.selections]
    assert (cell.row, cell.column) == (1, 2) and cell.selections[0].selected
