"""RetrieveAndGenerate over EXTERNAL_SOURCES: a document given inline (byteContent) or by S3 location.

There is no knowledge base to search: the document is parsed like an ingested one, cut into Bedrock's default
fixed-size chunks, and the chunks sharing most words with the question become the "search results" that the
answer cites (in document order when none shares any).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from outcrop.rag import DocumentError, chunk_text, parse_document
from outcrop.rag.chunking import whitespace_tokens
from outcrop.rag.ingest import SOURCE_URI
from outcrop.storage.vectors import Hit

MAX_PASSAGES = 5
_WORD = re.compile(r"[a-z0-9]+")


class ExternalSourceError(ValueError):
    """The source cannot be used (the service answers ValidationException)."""


def source_document(
    source: Mapping[str, Any], read_s3: Callable[[str, str], bytes]
) -> tuple[str, bytes, str | None]:
    """(name, bytes, content type) of one `sources` entry; `read_s3(bucket, key)` reads an S3 object."""
    if source.get("sourceType") == "BYTE_CONTENT":
        content = source.get("byteContent") or {}
        if not content.get("data") or not content.get("identifier"):
            raise ExternalSourceError("A BYTE_CONTENT source needs byteContent data and identifier.")
        return str(content["identifier"]), bytes(content["data"]), content.get("contentType")
    if source.get("sourceType") == "S3":
        uri = str((source.get("s3Location") or {}).get("uri", ""))
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or not bucket or not key:
            raise ExternalSourceError(f"s3Location.uri must be s3://bucket/key, got {uri!r}")
        try:
            return uri, read_s3(bucket, key), None
        except Exception as error:  # the store's own errors: missing bucket or key
            raise ExternalSourceError(f"The source {uri} could not be read: {error}") from error
    raise ExternalSourceError("sourceType must be S3 or BYTE_CONTENT")


def passages(name: str, data: bytes, content_type: str | None, question: str) -> list[Hit]:
    """The document's chunks most relevant to `question`, as hits whose source is `name`."""
    try:
        parsed = parse_document(data, name, content_type)
    except DocumentError as error:
        raise ExternalSourceError(f"The source {name} cannot be read: {error.reason}") from error
    chunks = chunk_text(parsed.text, None, whitespace_tokens)
    asked = set(_WORD.findall(question.lower()))
    overlap = [len(asked & set(_WORD.findall(chunk.text.lower()))) for chunk in chunks]
    best = sorted(range(len(chunks)), key=lambda index: -overlap[index])[:MAX_PASSAGES]
    top = max(overlap, default=0) or 1
    return [
        Hit(f"{name}#{index}", name, chunks[index].text, {SOURCE_URI: name}, None, overlap[index] / top)
        for index in sorted(best)
    ]
