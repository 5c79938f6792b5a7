"""The document half of Knowledge Bases: parse files, chunk their text, read their metadata sidecars.

A pure library (no AWS, no HTTP): the bedrock-agent service feeds it object bytes and stores what it returns.
"""

from outcrop.rag.chunking import (
    Chunk,
    ChunkingConfigError,
    Embedder,
    ParentChunk,
    TokenCounter,
    chunk_fixed_size,
    chunk_hierarchical,
    chunk_none,
    chunk_semantic,
    chunk_text,
    whitespace_tokens,
)
from outcrop.rag.metadata import (
    DocumentMetadata,
    InvalidMetadata,
    MetadataValue,
    document_key_for,
    is_metadata_key,
    metadata_key_for,
    parse_metadata,
)
from outcrop.rag.parse import (
    CorruptDocument,
    DocumentError,
    EmptyDocument,
    ParsedDocument,
    UnsupportedDocument,
    parse_document,
)

__all__ = [
    "Chunk",
    "ChunkingConfigError",
    "CorruptDocument",
    "DocumentError",
    "DocumentMetadata",
    "Embedder",
    "EmptyDocument",
    "InvalidMetadata",
    "MetadataValue",
    "ParentChunk",
    "ParsedDocument",
    "TokenCounter",
    "UnsupportedDocument",
    "chunk_fixed_size",
    "chunk_hierarchical",
    "chunk_none",
    "chunk_semantic",
    "chunk_text",
    "document_key_for",
    "is_metadata_key",
    "metadata_key_for",
    "parse_document",
    "parse_metadata",
    "whitespace_tokens",
]
