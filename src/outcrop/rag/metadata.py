"""Bedrock's `<document>.metadata.json` sidecars: typed attributes used by Retrieve's metadata filters.

A sidecar either gives plain JSON values (`"year": 2024`) or Bedrock's typed form
(`{"value": {"type": "NUMBER", "numberValue": 2024}, "includeForEmbedding": true}`). Both become plain Python
values; the attributes marked `includeForEmbedding` are also embedded with the chunk text. A bad sidecar fails
its document (as Bedrock does), never the ingestion job.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from outcrop.rag.parse import DocumentError

METADATA_SUFFIX = ".metadata.json"
MAX_METADATA_BYTES = 10 * 1024  # Bedrock's limit for one metadata file
RESERVED_PREFIX = "x-amz-bedrock-kb-"  # the attributes Bedrock itself adds (source URI, page number, ...)

MetadataValue = str | float | bool | list[str]
_VALUE_FIELDS = {
    "STRING": "stringValue",
    "NUMBER": "numberValue",
    "BOOLEAN": "booleanValue",
    "STRING_LIST": "stringListValue",
}


class InvalidMetadata(DocumentError):
    """A metadata sidecar that is not valid JSON or not in Bedrock's format."""


@dataclass(frozen=True)
class DocumentMetadata:
    """A document's attributes, and which of them are embedded along with its chunks."""

    attributes: dict[str, MetadataValue] = field(default_factory=dict)
    embedded: tuple[str, ...] = ()

    def embedding_text(self) -> str:
        """The included attributes as 'key: value' lines, to prepend to a chunk's text before embedding it."""
        lines = []
        for key in self.embedded:
            value = self.attributes[key]
            shown = ", ".join(value) if isinstance(value, list) else _format_scalar(value)
            lines.append(f"{key}: {shown}")
        return "\n".join(lines)


def is_metadata_key(key: str) -> bool:
    """Whether an object key names a sidecar (those are never ingested as documents themselves)."""
    name = key.rsplit("/", 1)[-1]
    return name.lower().endswith(METADATA_SUFFIX) and len(name) > len(METADATA_SUFFIX)


def metadata_key_for(document_key: str) -> str:
    """`docs/x.pdf` -> `docs/x.pdf.metadata.json`, where Bedrock looks for the document's sidecar."""
    return document_key + METADATA_SUFFIX


def document_key_for(metadata_key: str) -> str | None:
    """`docs/x.pdf.metadata.json` -> `docs/x.pdf`; None if the key is not a sidecar."""
    if not is_metadata_key(metadata_key):
        return None
    return metadata_key[: -len(METADATA_SUFFIX)]


def parse_metadata(data: bytes | str | Mapping[str, Any]) -> DocumentMetadata:
    """Validate and flatten a sidecar; raises InvalidMetadata with the reason Bedrock would give."""
    if isinstance(data, bytes | str):
        size = len(data.encode() if isinstance(data, str) else data)
        if size > MAX_METADATA_BYTES:
            raise InvalidMetadata(f"metadata file is {size} bytes, over the {MAX_METADATA_BYTES} byte limit")
        try:
            document = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InvalidMetadata(f"metadata file is not valid JSON: {error}") from None
    else:
        document = data
    if not isinstance(document, Mapping) or not isinstance(document.get("metadataAttributes"), Mapping):
        raise InvalidMetadata('metadata file must be a JSON object with a "metadataAttributes" object')
    attributes: dict[str, MetadataValue] = {}
    embedded: list[str] = []
    for key, raw in document["metadataAttributes"].items():
        if not 1 <= len(key) <= 200:
            raise InvalidMetadata(f"metadata key {key[:40]!r} must be 1 to 200 characters long")
        if key.lower().startswith(RESERVED_PREFIX):
            raise InvalidMetadata(f"metadata key {key!r} uses the reserved prefix {RESERVED_PREFIX!r}")
        if isinstance(raw, Mapping):
            attributes[key], include = _typed(key, raw)
            if include:
                embedded.append(key)
        else:
            attributes[key] = _plain(key, raw)
    return DocumentMetadata(attributes, tuple(embedded))


def _plain(key: str, value: Any) -> MetadataValue:
    """The short form: the JSON type decides the attribute type."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return _number(key, value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise InvalidMetadata(f"metadata {key!r}: value must be a string, number, boolean or list of strings")


def _typed(key: str, entry: Mapping[str, Any]) -> tuple[MetadataValue, bool]:
    """The long form: {"value": {"type": T, "<t>Value": v}, "includeForEmbedding": bool}."""
    unknown = set(entry) - {"value", "includeForEmbedding"}
    if unknown:
        raise InvalidMetadata(f"metadata {key!r}: unknown field(s) {', '.join(sorted(unknown))}")
    value = entry.get("value")
    include = entry.get("includeForEmbedding", False)
    if not isinstance(include, bool):
        raise InvalidMetadata(f"metadata {key!r}: includeForEmbedding must be true or false")
    if not isinstance(value, Mapping):
        raise InvalidMetadata(f'metadata {key!r}: expected {{"value": {{"type": ..., ...}}}}')
    kind = value.get("type")
    if kind not in _VALUE_FIELDS:
        raise InvalidMetadata(
            f"metadata {key!r}: type must be one of {', '.join(_VALUE_FIELDS)}, got {kind!r}"
        )
    slot = _VALUE_FIELDS[kind]
    if slot not in value:
        raise InvalidMetadata(f"metadata {key!r}: type {kind} needs {slot}")
    given = value[slot]
    if kind == "STRING" and isinstance(given, str):
        return given, include
    if kind == "NUMBER" and isinstance(given, int | float) and not isinstance(given, bool):
        return _number(key, given), include
    if kind == "BOOLEAN" and isinstance(given, bool):
        return given, include
    if kind == "STRING_LIST" and isinstance(given, list) and all(isinstance(item, str) for item in given):
        return list(given), include
    raise InvalidMetadata(f"metadata {key!r}: {slot} {given!r} does not match type {kind}")


def _number(key: str, value: float) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise InvalidMetadata(f"metadata {key!r}: numbers must be finite")
    return number


def _format_scalar(value: str | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
