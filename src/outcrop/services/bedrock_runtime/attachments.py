"""Documents and images attached to chat requests (Converse, Nova and Anthropic bodies).

A document is read into text by the knowledge bases' parsers (PDF, DOCX, HTML, CSV, Markdown, text) and put in
the prompt under its name, so the model can refer to it; local models read text, so that is how they see a
PDF. An image stays an image: it travels as image content, and the inference path refuses it for a model
that cannot see. Converse's limits are Bedrock's: five documents of 4.5 MB, twenty images of 3.75 MB, names
of letters, digits, single spaces, hyphens, parentheses and square brackets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from outcrop.backends.base import Image
from outcrop.protocol.errors import ValidationException
from outcrop.rag.parse import DocumentError, ParsedDocument, parse_document, tidy
from outcrop.services._inputs import InputErrors, bytes_or_s3_object
from outcrop.storage.objects import ObjectStore

MAX_DOCUMENTS = 5
MAX_DOCUMENT_BYTES = 4_718_592  # 4.5 MB
MAX_IMAGES = 20
MAX_IMAGE_BYTES = 3_932_160  # 3.75 MB
DOCUMENT_FORMATS = ("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
# Underscores are not in the documented set, but Bedrock accepts them.
_NAME = re.compile(r"[A-Za-z0-9_\-()\[\] ]{1,200}")
_S3_URI = re.compile(r"s3://([^/]+)/(.+)")
_S3_ERRORS = InputErrors(ValidationException, ValidationException, ValidationException)


@dataclass(frozen=True)
class Document:
    """A document read into text, with what it was called."""

    name: str
    parsed: ParsedDocument
    context: str | None = None
    citations: bool = False  # Converse's `citations.enabled`: the answer cites its passages

    def prompt(self) -> str:
        """The document as the model reads it: marked off, and named so the answer can cite it."""
        context = f"\n({self.context})" if self.context else ""
        return f'<document name="{self.name}">{context}\n{self.parsed.text}\n</document>'


def read_document(data: bytes, fmt: str | None, name: str) -> ParsedDocument:
    """A document's text, read by the parser its format names (sniffed from the bytes when none is given)."""
    try:
        return parse_document(data, f"document.{fmt}" if fmt else "document")
    except DocumentError as error:
        raise ValidationException(f"The document {name} could not be read: {error.reason}.") from None


def text_document(text: str) -> ParsedDocument:
    return ParsedDocument(tidy(text), "text")


def in_prompt(documents: Sequence[Document], texts: Sequence[str]) -> str:
    """A turn's text: its documents first (small models answer best with the question last), then its text."""
    return "\n\n".join(part for part in [*(d.prompt() for d in documents), "\n".join(texts)] if part)


class Attachments:
    """The documents and images of one Converse (or Nova) request, checked against Bedrock's limits as read.
    S3 locations are read from `objects`; without a store (native bodies) they are refused."""

    def __init__(self, objects: ObjectStore | None = None) -> None:
        self.objects = objects
        self.documents: list[Document] = []
        self.images = 0

    def document(self, block: Mapping[str, Any]) -> Document:
        name = block.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name) or "  " in name:
            raise ValidationException(
                "The document file name can only contain alphanumeric characters, whitespace characters, "
                "hyphens, parentheses, and square brackets. The name can't contain more than one consecutive "
                "whitespace character. Check that the file name conforms to these restrictions and retry "
                "your request."
            )
        if len(self.documents) >= MAX_DOCUMENTS:
            raise ValidationException(f"You can't include more than {MAX_DOCUMENTS} documents in a request.")
        if any(document.name == name for document in self.documents):
            raise ValidationException(
                "Messages can't contain duplicate document names. Rename the document and retry your request."
            )
        fmt = block.get("format")
        if fmt is not None and fmt not in DOCUMENT_FORMATS:
            raise ValidationException(
                f"The document format {fmt} is not supported. "
                f"Supported formats: {', '.join(DOCUMENT_FORMATS)}."
            )
        source = block.get("source") or {}
        if "text" in source:
            parsed = text_document(str(source["text"]))
        elif "content" in source:
            parsed = text_document("\n\n".join(str(part.get("text", "")) for part in source["content"] or ()))
        else:
            data = self._bytes(source, f"document {name}", MAX_DOCUMENT_BYTES)
            parsed = read_document(data, fmt, name)
        cited = bool((block.get("citations") or {}).get("enabled"))
        document = Document(name, parsed, block.get("context"), cited)
        self.documents.append(document)
        return document

    def image(self, block: Mapping[str, Any]) -> Image:
        media_type = IMAGE_TYPES.get(str(block.get("format")))
        if media_type is None:
            raise ValidationException(
                f"The image format {block.get('format')} is not supported. Supported formats: "
                f"{', '.join(IMAGE_TYPES)}."
            )
        self.images += 1
        if self.images > MAX_IMAGES:
            raise ValidationException(f"You can't include more than {MAX_IMAGES} images in a request.")
        return Image(media_type, self._bytes(block.get("source") or {}, "image", MAX_IMAGE_BYTES))

    def _bytes(self, source: Mapping[str, Any], what: str, limit: int) -> bytes:
        if "bytes" in source:
            data = bytes(source["bytes"])
        elif "s3Location" in source:
            data = self._s3(source["s3Location"], what, limit)
        else:
            raise ValidationException(f"The {what} has no source: give bytes or an s3Location.")
        if not data:
            raise ValidationException(f"The {what} is empty.")
        if len(data) > limit:
            raise ValidationException(
                f"The {what} is {len(data)} bytes, which exceeds the limit of {limit / 2**20:g} MB. "
                "Reduce its size and try again."
            )
        return data

    def _s3(self, location: Mapping[str, Any], what: str, limit: int) -> bytes:
        match = _S3_URI.fullmatch(str(location.get("uri", "")))
        if match is None:
            raise ValidationException(f"The S3 location of the {what} must be an s3://bucket/key URI.")
        if self.objects is None:
            raise ValidationException(
                "S3 locations are read in Converse and ConverseStream on this server; send the bytes in "
                "the request body instead."
            )
        source = {"S3Object": {"Bucket": match.group(1), "Name": match.group(2)}}
        return bytes_or_s3_object(self.objects, source, name=what, limit=limit, errors=_S3_ERRORS)
