"""IngestKnowledgeBaseDocuments and friends: add, look up and remove single documents without a job.

Documents are indexed in the request (at most ten per call), so a caller that polls for INDEXED sees it at
once. They are recorded in the same documents table as ingestion jobs' S3 documents, so a later job on an
S3 data source sees them unchanged instead of embedding them again. A CUSTOM document is keyed by its id and
its chunks carry that id as `x-amz-bedrock-kb-source-uri`; Retrieve reports them with a CUSTOM location.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from outcrop.backends.base import Embedder
from outcrop.rag import DocumentError, DocumentMetadata, ParsedDocument, parse_document, parse_metadata
from outcrop.rag.ingest import DATA_SOURCE_ID, SOURCE_URI, build_chunks, document_id
from outcrop.rag.kbstore import DataSource, IndexedDocument, KnowledgeBase, KnowledgeBaseStore
from outcrop.rag.metadata import metadata_key_for
from outcrop.rag.parse import tidy
from outcrop.storage.objects import ObjectStore, StoreError


class DocumentRequestError(ValueError):
    """A document entry the API must refuse as a whole (ValidationException)."""


@dataclass(frozen=True)
class Outcome:
    key: str
    status: str
    reason: str | None = None


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise DocumentRequestError(f"{uri} is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def identifier_key(identifier: Mapping[str, Any], data_source: DataSource) -> str:
    """The documents-table key of a DocumentIdentifier: the custom id, or the S3 key."""
    kind = data_source.body["dataSourceConfiguration"]["type"]
    if identifier["dataSourceType"] != kind:
        raise DocumentRequestError(
            f"A {identifier['dataSourceType']} document does not fit a {kind} data source."
        )
    if kind == "CUSTOM":
        return str(identifier["custom"]["id"])
    return split_s3_uri(identifier["s3"]["uri"])[1]


def identifier_of(key: str, data_source: DataSource, bucket: str | None) -> dict[str, Any]:
    if data_source.body["dataSourceConfiguration"]["type"] == "CUSTOM":
        return {"dataSourceType": "CUSTOM", "custom": {"id": key}}
    return {"dataSourceType": "S3", "s3": {"uri": f"s3://{bucket}/{key}"}}


class DocumentIngestor:
    """Indexes single documents into one data source of one knowledge base."""

    def __init__(
        self,
        store: KnowledgeBaseStore,
        objects: ObjectStore,
        kb: KnowledgeBase,
        data_source: DataSource,
        embedder: Embedder,
    ) -> None:
        self.store = store
        self.objects = objects
        self.kb = kb
        self.data_source = data_source
        self.embedder = embedder
        self.kind = data_source.body["dataSourceConfiguration"]["type"]
        ingestion = data_source.body.get("vectorIngestionConfiguration") or {}
        self.chunking: dict[str, Any] | None = ingestion.get("chunkingConfiguration")

    def ingest(self, entry: Mapping[str, Any]) -> Outcome:
        content = entry["content"]
        if content["dataSourceType"] != self.kind:
            raise DocumentRequestError(
                f"A {content['dataSourceType']} document does not fit a {self.kind} data source."
            )
        if self.kind == "CUSTOM":
            custom = content.get("custom") or {}
            key = str(custom["customDocumentIdentifier"]["id"])
            source = key
        else:
            source = content["s3"]["s3Location"]["uri"]
            key = split_s3_uri(source)[1]
        try:
            data, name, content_type = self._content(content, key)
            metadata_bytes = self._metadata_bytes(entry.get("metadata"), source)
            metadata = parse_metadata(metadata_bytes) if metadata_bytes else DocumentMetadata()
            parsed = self._parse(data, name, content_type)
            chunks = build_chunks(
                self.embedder,
                self.chunking,
                document_id(self.data_source.id, key),
                parsed,
                metadata,
                {SOURCE_URI: source, DATA_SOURCE_ID: self.data_source.id},
            )
        except DocumentError as error:
            self._record(key, "FAILED", error.reason, b"", b"")
            return Outcome(key, "FAILED", error.reason)
        self.store.vectors(self.kb).replace_document(document_id(self.data_source.id, key), chunks)
        self._record(key, "INDEXED", None, data, metadata_bytes)
        return Outcome(key, "INDEXED")

    def _content(self, content: Mapping[str, Any], key: str) -> tuple[bytes, str, str | None]:
        if self.kind == "S3":
            return self._read(content["s3"]["s3Location"]["uri"]), key, None
        custom = content["custom"]
        if custom["sourceType"] == "S3_LOCATION":
            uri = (custom.get("s3Location") or {}).get("uri")
            if not uri:
                raise DocumentRequestError("An S3_LOCATION custom document needs s3Location.uri.")
            return self._read(uri), split_s3_uri(uri)[1], None
        inline = custom.get("inlineContent") or {}
        if inline.get("type") == "TEXT" and "textContent" in inline:
            return str(inline["textContent"]["data"]).encode(), f"{key}.txt", "text/plain"
        if inline.get("type") == "BYTE" and "byteContent" in inline:
            byte = inline["byteContent"]
            return bytes(byte["data"]), key, str(byte["mimeType"])
        raise DocumentRequestError(
            "An IN_LINE custom document needs inlineContent with textContent or byteContent."
        )

    def _read(self, uri: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        try:
            return self.objects.read_object(bucket, key)
        except StoreError as error:
            raise DocumentError(f"{uri} could not be read: {error}") from error

    def _metadata_bytes(self, metadata: Mapping[str, Any] | None, source: str) -> bytes:
        if metadata is None:
            if self.kind == "S3":  # as a job would: the sidecar beside the object, if there is one
                bucket, key = split_s3_uri(source)
                try:
                    return self.objects.read_object(bucket, metadata_key_for(key))
                except StoreError:
                    return b""
            return b""
        if metadata["type"] == "S3_LOCATION":
            return self._read(metadata["s3Location"]["uri"])
        attributes = {
            item["key"]: {"value": item["value"]} for item in metadata.get("inlineAttributes") or []
        }
        return json.dumps({"metadataAttributes": attributes}).encode()

    @staticmethod
    def _parse(data: bytes, name: str, content_type: str | None) -> ParsedDocument:
        if content_type == "text/plain":
            text = tidy(data.decode())
            if not text:
                raise DocumentError("the document has no text to index")
            return ParsedDocument(text, "text")
        return parse_document(data, name, content_type)

    def _record(self, key: str, status: str, reason: str | None, data: bytes, metadata: bytes) -> None:
        settings = hashlib.sha256(json.dumps(self.chunking, sort_keys=True).encode()).hexdigest()[:16]
        self.store.save_document(
            self.kb.id,
            self.data_source.id,
            IndexedDocument(
                key,
                hashlib.sha256(data).hexdigest() + settings,
                hashlib.sha256(metadata).hexdigest(),
                status,
                reason,
            ),
        )
