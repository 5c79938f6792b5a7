from __future__ import annotations

import pytest

from outcrop.rag import CorruptDocument, DocumentError, EmptyDocument, UnsupportedDocument, parse_document
from outcrop.rag import parse as parse_module
from outcrop.rag.parse import decode_text, detect_format

MARKDOWN = """---
title: "Hiking: a field guide"
layout: post
---
Trail basics
============

Always carry **water**, a *map* and a [first-aid kit](https://example.com/kit). Check `weather_api` first.

## Packing list
* Boots
* Rain jacket
  + with a hood
1. Plan the route
2) Tell someone

> Leave no trace.

| Trail | Length |
|-------|-------:|
| Ridge | 12 km  |

```bash
echo "*keep* this code"
```
<!-- an editor's note -->
[kit]: https://example.com/kit
"""


def test_markdown_reads_naturally() -> None:
    parsed = parse_document(MARKDOWN.encode(), "guide.md")
    assert parsed.format == "markdown"
    assert parsed.title == "Hiking: a field guide"
    text = parsed.text
    assert text.startswith(
        "Trail basics\n\nAlways carry water, a map and a first-aid kit. Check weather_api first."
    )
    assert (
        "Packing list\n\n- Boots\n- Rain jacket\n  - with a hood\n1. Plan the route\n2. Tell someone" in text
    )
    assert "Leave no trace." in text and ">" not in text
    assert "Trail | Length\nRidge | 12 km" in text and "---" not in text
    assert 'echo "*keep* this code"' in text
    for markup in ("layout", "editor's note", "https://", "```", "##", "**"):
        assert markup not in text


def test_markdown_title_is_the_first_heading_without_front_matter() -> None:
    parsed = parse_document(b"Intro line.\n\n# Real title\n\nBody.\n", "x.markdown")
    assert parsed.title == "Real title"
    assert parsed.text == "Intro line.\n\nReal title\n\nBody."


def test_csv_rows_become_labelled_lines() -> None:
    data = b'name,city,notes\nAlice,Paris,"likes cheese, wine"\nBob,,tall\n\n'
    parsed = parse_document(data, "people.csv")
    assert parsed.format == "csv"
    assert parsed.text == "name: Alice; city: Paris; notes: likes cheese, wine\nname: Bob; notes: tall"


def test_csv_without_a_header_and_with_other_delimiters() -> None:
    assert parse_document(b"1,2,3\n4,5,6\n", "n.csv").text == (
        "column 1: 1; column 2: 2; column 3: 3\ncolumn 1: 4; column 2: 5; column 3: 6"
    )
    assert parse_document(b"sku;price\nA1;9.50\n", "p.csv").text == "sku: A1; price: 9.50"
    assert parse_document(b"a\tb\n1\t2\n", "t.tsv").text == "a: 1; b: 2"
    extra = parse_document(b"k,v\n1,2,3\n", "e.csv").text
    assert extra == "k: 1; v: 2; column 3: 3"


def test_plain_text_decodes_utf8_and_falls_back() -> None:
    assert parse_document("naïve café\r\nline two\n".encode(), "a.txt").text == "naïve café\nline two"
    dashed = "café \u2013 résumé"
    assert parse_document(dashed.encode("cp1252"), "b.txt").text == dashed
    assert parse_document("\ufeffbom text".encode("utf-16"), "c.txt").text == "bom text"
    assert parse_document(b"caf\xe9", "d.txt", "text/plain; charset=latin-1").text == "café"
    assert decode_text(b"\x81\x8d") == "\x81\x8d"  # bytes undefined in cp1252 still decode


def test_unknown_binaries_and_unsupported_types_are_refused() -> None:
    blob = bytes(range(256)) * 4
    for name in ("blob.bin", "noextension", "photo.png"):
        with pytest.raises(UnsupportedDocument):
            parse_document(blob, name)
    with pytest.raises(UnsupportedDocument, match="CSV"):
        parse_document(b"\xd0\xcf\x11\xe0", "sheet.xls")
    with pytest.raises(UnsupportedDocument, match="not supported"):
        parse_document(b"print('hi')", "script.py")
    with pytest.raises(UnsupportedDocument, match="binary"):
        parse_document(b"PK\x03\x04" + bytes(40), "archive")


def test_text_like_files_without_a_known_extension_are_text() -> None:
    assert detect_format(b'{"a": 1}', "data.json") == "text"
    assert detect_format(b"Files start with %PDF-1.7 and end with %%EOF.", "notes.txt") == "text"
    assert detect_format(b"# Notes", "README", "text/markdown") == "markdown"
    assert detect_format(b"a,b\n1,2", "export", "text/csv") == "csv"


def test_empty_documents_say_so() -> None:
    for data, name in ((b"", "empty.pdf"), (b"  \n\t\n", "blank.html"), (b"a,b\n", "header-only.csv")):
        with pytest.raises(EmptyDocument, match=r"empty|no text"):
            parse_document(data, name)
    with pytest.raises(EmptyDocument, match="no text could be extracted from this markdown"):
        parse_document(b"<!-- only a comment -->\n---\n", "notes.md")


def test_oversized_documents_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_module, "MAX_DOCUMENT_BYTES", 10)
    with pytest.raises(UnsupportedDocument, match="limit"):
        parse_document(b"x" * 11, "big.txt")


def test_errors_share_one_family_with_a_reason() -> None:
    for cls in (UnsupportedDocument, CorruptDocument, EmptyDocument):
        assert issubclass(cls, DocumentError)
    error = CorruptDocument("the PDF cannot be opened")
    assert error.reason == str(error) == "the PDF cannot be opened"
