"""Ingestion jobs: read a data source's S3 objects or crawl its web pages (rag/web.py), then parse,
chunk, embed and index them, incrementally.

A job runs in its own thread and saves its statistics after every document, so GetIngestionJob shows
progress and a restart finds a truthful record (the store marks jobs it finds running FAILED). A document
is keyed by its S3 key; its content hash and its sidecar's hash decide whether it is new, modified,
unchanged (not embedded again) or gone. Each document's chunks are swapped in one `replace_document` commit,
so Retrieve never sees half a document. A file that cannot be read fails that document, never the job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from outcrop.backends.base import Embedder
from outcrop.rag import (
    DocumentError,
    DocumentMetadata,
    ParsedDocument,
    chunk_text,
    document_key_for,
    is_metadata_key,
    metadata_key_for,
    parse_document,
    parse_metadata,
)
from outcrop.rag.chunking import ChunkingConfigError
from outcrop.rag.kbstore import STATISTICS, DataSource, IndexedDocument, KnowledgeBase, KnowledgeBaseStore
from outcrop.rag.web import CrawlSettings, crawl, crawl_settings
from outcrop.storage.objects import ObjectStore, StoreError
from outcrop.storage.vectors import MetadataValue, StoredChunk

log = logging.getLogger("outcrop.ingest")

EMBED_BATCH = 32
MAX_FAILURE_REASONS = 100
SOURCE_URI = "x-amz-bedrock-kb-source-uri"
CHUNK_ID = "x-amz-bedrock-kb-chunk-id"
DATA_SOURCE_ID = "x-amz-bedrock-kb-data-source-id"
PAGE_NUMBER = "x-amz-bedrock-kb-document-page-number"


def document_id(ds_id: str, key: str) -> str:
    """The vector store's document id: data sources of one knowledge base may hold the same key."""
    return f"{ds_id}/{key}"


def bucket_of(data_source: DataSource) -> str:
    arn = str(data_source.body["dataSourceConfiguration"]["s3Configuration"]["bucketArn"])
    return arn.rpartition(":")[2]


@dataclass
class JobRun:
    """One job's counters and failure reasons, saved as they change."""

    store: KnowledgeBaseStore
    job_id: str
    statistics: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATISTICS, 0))
    failures: list[str] = field(default_factory=list)

    def save(self, status: str) -> None:
        self.store.save_job(self.job_id, status, self.statistics, self.failures)

    def fail_document(self, key: str, reason: str) -> None:
        self.statistics["numberOfDocumentsFailed"] += 1
        if len(self.failures) < MAX_FAILURE_REASONS:
            self.failures.append(f"{key}: {reason}")


class Ingestor:
    """Runs one job for one S3 data source. `embedder` is the knowledge base's model, already loaded."""

    def __init__(
        self,
        store: KnowledgeBaseStore,
        objects: ObjectStore,
        kb: KnowledgeBase,
        data_source: DataSource,
        embedder: Embedder,
        job_id: str,
        crawl_private_targets: bool = False,
    ) -> None:
        self.store = store
        self.crawl_private_targets = crawl_private_targets  # the server's setting (rag/web.py)
        self.objects = objects
        self.kb = kb
        self.data_source = data_source
        self.embedder = embedder
        self.run = JobRun(store, job_id)
        self.vectors = store.vectors(kb)
        ingestion = data_source.body.get("vectorIngestionConfiguration") or {}
        self.chunking: dict[str, Any] | None = ingestion.get("chunkingConfiguration")
        self.settings_hash = hashlib.sha256(json.dumps(self.chunking, sort_keys=True).encode()).hexdigest()[
            :16
        ]

    def __call__(self) -> None:
        """The job, start to end; never raises (a job-level failure is recorded as FAILED)."""
        run = self.run
        try:
            run.save("IN_PROGRESS")
            self._ingest()
            status = "COMPLETE"  # or STOPPED, where a stop was accepted: the store decides as it writes
        except Exception as error:  # the job's own record is where this failure belongs
            log.exception("ingestion job %s failed", run.job_id)
            run.failures.append(f"The ingestion job failed: {error}")
            status = "FAILED"
        finally:
            with self.store.running_lock:
                self.store.running.discard(self.data_source.id)
        run.save(status)

    def _ingest(self) -> None:
        configuration = self.data_source.body["dataSourceConfiguration"]
        if configuration["type"] == "WEB":
            web = configuration["webConfiguration"]
            self._ingest_web(crawl_settings(web, allow_private=self.crawl_private_targets))
            return
        bucket = bucket_of(self.data_source)
        s3 = self.data_source.body["dataSourceConfiguration"]["s3Configuration"]
        prefixes = s3.get("inclusionPrefixes") or [""]
        documents: dict[str, str] = {}  # key -> etag
        sidecars: dict[str, str] = {}
        for prefix in prefixes:
            for info in self.objects.iter_objects(bucket, prefix):
                if is_metadata_key(info.key):
                    sidecars[info.key] = info.etag
                elif not info.key.endswith("/"):
                    documents[info.key] = info.etag
        known = self.store.documents(self.kb.id, self.data_source.id)
        for key in sorted(documents):
            if self.store.stop_requested(self.run.job_id):
                return
            self._document(bucket, key, metadata_key_for(key) in sidecars, known.get(key))
            self.run.save("IN_PROGRESS")
        self.run.statistics["numberOfMetadataDocumentsScanned"] = sum(
            1 for key in sidecars if document_key_for(key) in documents
        )
        self._forget(known, set(documents))

    def _ingest_web(self, settings: CrawlSettings) -> None:
        """Crawl, indexing each page by its URL; pages no longer reached are deleted (unless stopped)."""
        known = self.store.documents(self.kb.id, self.data_source.id)
        reached: set[str] = set()

        def stopped() -> bool:
            return self.store.stop_requested(self.run.job_id)

        for page in crawl(settings, stop=stopped, refused=self.run.fail_document):
            reached.add(page.url)
            self.run.statistics["numberOfDocumentsScanned"] += 1
            self._index(page.url, page.content, b"", known.get(page.url), page.url, page.content_type)
            self.run.save("IN_PROGRESS")
        if not stopped():
            self._forget(known, reached)

    def _forget(self, known: Mapping[str, IndexedDocument], present: set[str]) -> None:
        for key in sorted(set(known) - present):
            self.vectors.delete_document(document_id(self.data_source.id, key))
            self.store.forget_document(self.kb.id, self.data_source.id, key)
            if known[key].status == "INDEXED":
                self.run.statistics["numberOfDocumentsDeleted"] += 1

    def _document(self, bucket: str, key: str, has_sidecar: bool, known: IndexedDocument | None) -> None:
        stats = self.run.statistics
        stats["numberOfDocumentsScanned"] += 1
        try:
            data = self.objects.read_object(bucket, key)
            sidecar = self.objects.read_object(bucket, metadata_key_for(key)) if has_sidecar else b""
        except StoreError as error:  # deleted while we listed: the next job will see it gone
            self.run.fail_document(key, f"the object could not be read: {error}")
            return
        self._index(key, data, sidecar, known, f"s3://{bucket}/{key}")

    def _index(
        self,
        key: str,
        data: bytes,
        sidecar: bytes,
        known: IndexedDocument | None,
        uri: str,
        content_type: str | None = None,
    ) -> None:
        """Index one document unless it is unchanged since `known`; counts it new, modified or failed."""
        stats = self.run.statistics
        content_hash = hashlib.sha256(data).hexdigest() + self.settings_hash
        metadata_hash = hashlib.sha256(sidecar).hexdigest()
        if (
            known is not None
            and known.status == "INDEXED"
            and known.content_hash == content_hash
            and known.metadata_hash == metadata_hash
        ):
            return
        try:
            chunks = self._chunks(key, data, sidecar, uri, content_type)
        except DocumentError as error:
            self.run.fail_document(key, error.reason)
            self.store.save_document(
                self.kb.id,
                self.data_source.id,
                IndexedDocument(key, content_hash, metadata_hash, "FAILED", error.reason),
            )
            return
        self.vectors.replace_document(document_id(self.data_source.id, key), chunks)
        self.store.save_document(
            self.kb.id,
            self.data_source.id,
            IndexedDocument(key, content_hash, metadata_hash, "INDEXED", None),
        )
        if known is None or known.status != "INDEXED":
            stats["numberOfNewDocumentsIndexed"] += 1
        elif known.content_hash == content_hash:
            stats["numberOfMetadataDocumentsModified"] += 1
        else:
            stats["numberOfModifiedDocumentsIndexed"] += 1

    def _chunks(
        self, key: str, data: bytes, sidecar: bytes, uri: str, content_type: str | None
    ) -> list[StoredChunk]:
        """Parse, chunk and embed one document (DocumentError when it cannot be indexed)."""
        metadata = parse_metadata(sidecar) if sidecar else DocumentMetadata()
        return build_chunks(
            self.embedder,
            self.chunking,
            document_id(self.data_source.id, key),
            parse_document(data, key, content_type),
            metadata,
            {SOURCE_URI: uri, DATA_SOURCE_ID: self.data_source.id},
        )


def build_chunks(
    embedder: Embedder,
    chunking: Mapping[str, Any] | None,
    doc_id: str,
    parsed: ParsedDocument,
    metadata: DocumentMetadata,
    system: Mapping[str, MetadataValue],
) -> list[StoredChunk]:
    """Chunk and embed a parsed document; `system` is the x-amz-bedrock-kb-* attributes of every chunk."""
    try:
        pieces = chunk_text(
            parsed.text, chunking, embedder.count_tokens, lambda t: embed_batched(embedder, t)
        )
    except ChunkingConfigError as error:
        raise DocumentError(f"the chunking configuration cannot be applied: {error}") from error
    if not pieces:
        raise DocumentError("the document has no text to index")
    prefix = metadata.embedding_text()
    texts = [f"{prefix}\n{piece.text}" if prefix else piece.text for piece in pieces]
    vectors = embed_batched(embedder, texts)
    chunks = []
    for piece, vector in zip(pieces, vectors, strict=True):
        chunk_id = str(uuid.uuid4())
        attributes: dict[str, MetadataValue] = {**metadata.attributes, **system, CHUNK_ID: chunk_id}
        page = parsed.page_at(piece.start)
        if page is not None:
            attributes[PAGE_NUMBER] = float(page)
        chunks.append(
            StoredChunk(
                chunk_id=chunk_id,
                document_id=doc_id,
                vector=vector,
                text=piece.text,
                metadata=attributes,
                parent_text=piece.parent_text,
            )
        )
    return chunks


def embed_batched(embedder: Embedder, texts: Sequence[str]) -> list[list[float]]:
    """Unit vectors for `texts`, in batches the model handles comfortably."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), EMBED_BATCH):
        vectors.extend(embedder.embed(list(texts[start : start + EMBED_BATCH]), normalize=True))
    return vectors


def start_job(job: Callable[[], None], job_id: str) -> threading.Thread:
    """Run the job outside the request, in a daemon thread (the store records its end either way)."""
    thread = threading.Thread(target=job, name=f"outcrop-ingest-{job_id}", daemon=True)
    thread.start()
    return thread
