"""Turn a knowledge-base document (PDF, DOCX, HTML, Markdown, CSV, text) into plain text for chunking.

Every parser returns readable prose: paragraphs separated by blank lines, headings and list items on their
own lines, no markup. A file that cannot be read raises a `DocumentError` whose message is the per-document
failure reason an ingestion job reports; parsing never fails a whole job.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import importlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import ModuleType

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # Bedrock's per-file limit for knowledge-base documents
FORMATS = ("pdf", "docx", "xlsx", "html", "markdown", "csv", "text")
_INSTALL = "pip install 'outcrop[rag]'"


class DocumentError(Exception):
    """A document that cannot be indexed; `reason` is what the ingestion job records for it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedDocument(DocumentError):
    """A file type Outcrop does not read (images, spreadsheets, archives, unknown binaries)."""


class CorruptDocument(DocumentError):
    """A file that claims a supported type but cannot be decoded as one."""


class EmptyDocument(DocumentError):
    """A readable file with no text in it (an empty file, or a scanned PDF without a text layer)."""


@dataclass(frozen=True)
class ParsedDocument:
    """A document's text; `page_offsets[n]` is where page n+1 starts in `text` (PDF only)."""

    text: str
    format: str
    title: str | None = None
    page_offsets: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset` (Bedrock's page-number metadata); None if unpaged."""
        if not self.page_offsets:
            return None
        return max(1, bisect.bisect_right(self.page_offsets, offset))


_EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".xlsx": "xlsx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "text",
    ".text": "text",
}
_CONTENT_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
    "text/plain": "text",
}
_UNSUPPORTED = {
    ".doc": "legacy Word .doc files are not supported; save the document as .docx",
    ".xls": "legacy Excel .xls workbooks are not supported; save the workbook as .xlsx or export it as CSV",
    ".pptx": "PowerPoint files are not supported",
}


def parse_document(data: bytes, name: str, content_type: str | None = None) -> ParsedDocument:
    """Parse one document; the format comes from its name, then its content type, then its first bytes."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise UnsupportedDocument(f"{len(data)} bytes is over the {MAX_DOCUMENT_BYTES // 2**20} MB limit")
    if not data.strip():
        raise EmptyDocument("the file is empty")
    mime, charset = _split_content_type(content_type)
    fmt = detect_format(data, name, mime)
    if fmt in ("pdf", "docx", "xlsx", "html"):
        from outcrop.rag import readers  # imported late: readers builds on this module's types

        if fmt == "pdf":
            parsed = readers.read_pdf(data)
        elif fmt == "docx":
            parsed = readers.read_docx(data)
        elif fmt == "xlsx":
            parsed = readers.read_xlsx(data)
        else:
            parsed = readers.read_html(data, charset)
    else:
        text = decode_text(data, charset)
        if fmt == "markdown":
            from outcrop.rag.markdown import markdown_to_text

            body, title = markdown_to_text(text)
            parsed = ParsedDocument(tidy(body), "markdown", title)
        elif fmt == "csv":
            parsed = ParsedDocument(_csv_to_text(text, name), "csv")
        else:
            parsed = ParsedDocument(tidy(text), "text")
    if not parsed.text:
        raise EmptyDocument(f"no text could be extracted from this {fmt} document")
    return parsed


def detect_format(data: bytes, name: str, content_type: str | None = None) -> str:
    """One of FORMATS, or UnsupportedDocument/CorruptDocument when the bytes contradict or defeat the name."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _UNSUPPORTED:
        raise UnsupportedDocument(_UNSUPPORTED[suffix])
    declared = _EXTENSIONS.get(suffix) or _CONTENT_TYPES.get(content_type or "")
    sniffed = _sniff(data)
    if declared == "pdf":  # PDFium, like most readers, accepts junk before a header in the first 1 KB
        if b"%PDF-" not in data[:1024]:
            raise CorruptDocument("not a PDF: the %PDF header is missing")
        return "pdf"
    if declared == "docx" and sniffed != "docx":
        raise CorruptDocument("not a DOCX: the file is not a Word document package (zip)")
    if declared == "xlsx" and sniffed != "xlsx":
        raise CorruptDocument("not an XLSX: the file is not an Excel workbook package (zip)")
    if sniffed in ("pdf", "docx", "xlsx"):
        return sniffed
    if sniffed == "binary":
        what = f"'{suffix}' file" if suffix else "file"
        raise UnsupportedDocument(f"this {what} holds binary data of an unsupported type")
    if declared is not None:
        return declared
    if suffix and suffix not in (".json", ".xml", ".log", ".rst", ".yaml", ".yml", ".ini", ".cfg"):
        supported = ", ".join(sorted(_EXTENSIONS))
        raise UnsupportedDocument(f"'{suffix}' files are not supported (supported: {supported})")
    return sniffed


def _sniff(data: bytes) -> str:
    head = data[:1024]
    if head.lstrip().startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
                if "word/document.xml" in names:
                    return "docx"
                if "xl/workbook.xml" in names:
                    return "xlsx"
        except zipfile.BadZipFile:
            pass
        return "binary"
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return "text"
    if b"\x00" in data[:8192] or _control_share(data[:8192]) > 0.1:
        return "binary"
    lead = head.lstrip()[:15].lower()
    return "html" if lead.startswith((b"<!doctype html", b"<html")) else "text"


def _control_share(head: bytes) -> float:
    if not head:
        return 0.0
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 12, 13))
    return controls / len(head)


def _split_content_type(content_type: str | None) -> tuple[str | None, str | None]:
    if not content_type:
        return None, None
    mime, _, params = content_type.partition(";")
    match = re.search(r"charset\s*=\s*\"?([\w.:-]+)", params, re.IGNORECASE)
    return mime.strip().lower() or None, match.group(1) if match else None


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Bytes to str: a BOM, then the declared charset, then UTF-8, then Windows-1252, then Latin-1."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    candidates = [charset] if charset else []
    for codec in [*candidates, "utf-8", "cp1252"]:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufeff\ufffe]")


def tidy(text: str) -> str:
    """Normalise what every parser emits: NFC, \\n line ends, no stray controls or trailing spaces."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text.replace("\f", "\n\n").replace("\xa0", " "))
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def require(module: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise UnsupportedDocument(f"{what} needs {module} ({error}); install it with `{_INSTALL}`") from None


# --- CSV ---------------------------------------------------------------------------------------------------


def _csv_to_text(text: str, name: str) -> str:
    """One line per record, 'column: value; column: value', so each row embeds with its own labels."""
    sample = text[:16384]
    delimiter = "\t" if name.lower().endswith(".tsv") else ","
    with contextlib.suppress(csv.Error):
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as error:
        raise CorruptDocument(f"the CSV cannot be parsed: {error}") from None
    return records_text(rows)


def records_text(rows: list[list[str]]) -> str:
    """Table rows (CSV records, spreadsheet rows) as one line each, labelled by the header row if any."""
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return ""
    header = [cell.strip() for cell in rows[0]]
    if _is_header(header):
        rows = rows[1:]
    else:
        header = []
    lines = []
    for row in rows:
        pairs = []
        for n, value in enumerate(row):
            value = " ".join(value.split())
            if value:
                label = header[n] if n < len(header) and header[n] else f"column {n + 1}"
                pairs.append(f"{label}: {value}")
        lines.append("; ".join(pairs))
    return tidy("\n".join(lines))


def _is_header(first: list[str]) -> bool:
    """Headers are unique, non-empty labels; a first row with numbers or blanks is data."""
    if not all(first) or len(set(first)) != len(first):
        return False
    return not any(re.fullmatch(r"[-+]?[\d.,]+%?", cell) for cell in first)
