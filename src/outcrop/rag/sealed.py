"""A knowledge base's chunk store with some chunks sealed: those of data sources with a customer managed key
(`serverSideEncryptionConfiguration.kmsKeyArn`) keep their text and parent text only as AES-256-GCM under
their data source's data key, and searches open them again through that key.

`opener(data_source_id)` answers a data source's data key in the clear (opened through KMS, so a disabled key
fails there, with the service's error) or None for a data source without a key; `keyed()` lists the data
sources with a key. Vectors and metadata stay as they are, so semantic search sees sealed chunks as before.
The full-text index holds a sealed chunk's blob and its words as keyed HMAC terms (sealed_terms.py), so
keyword search (and the keyword half of HYBRID) finds them by the query's terms under each keyed data
source's key, opening every such key through KMS: a disabled key fails the search.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from outcrop.kms.sealed import seal, unseal
from outcrop.rag.ingest import DATA_SOURCE_ID
from outcrop.rag.sealed_terms import term_key, terms
from outcrop.storage.vectors import Filter, Hit, StoredChunk, VectorStore, fusion

MARK = "outcrop-sealed:"  # a sealed value in base64 (parent texts, and chunk texts sealed before terms)
# a sealed chunk text: hex of the blob (one token longer than any index keeps), a newline, its terms; the
# mark is two invisible separators, so it gives the index no word a plain query could match
INDEXED = "\u2063\u2063"
Opener = Callable[[str], bytes | None]


class SealedVectors:
    """A VectorStore around another: chunks sealed on the way in, hits opened on the way out."""

    def __init__(
        self, inner: VectorStore, opener: Opener, keyed: Callable[[], list[str]] | None = None
    ) -> None:
        self.inner = inner
        self.opener = opener
        self.keyed = keyed or (lambda: [])
        self.name = inner.name
        self.dimension = inner.dimension

    def __getattr__(self, name: str) -> Any:
        """What a store offers beyond the protocol (its engine's own tools) is the inner store's."""
        return getattr(self.inner, name)

    def _keys(self) -> Callable[[str], bytes | None]:
        """A lookup that opens each data source's key once per call."""
        opened: dict[str, bytes | None] = {}

        def key(data_source: str) -> bytes | None:
            if data_source not in opened:
                opened[data_source] = self.opener(data_source)
            return opened[data_source]

        return key

    def _seal(self, chunks: Sequence[StoredChunk], key: Callable[[str], bytes | None]) -> list[StoredChunk]:
        out = []
        for chunk in chunks:
            data_key = key(str(chunk.metadata.get(DATA_SOURCE_ID, "")))
            if data_key is not None:
                chunk = replace(
                    chunk,
                    text=_indexed(data_key, chunk.text),
                    parent_text=None if chunk.parent_text is None else _sealed(data_key, chunk.parent_text),
                )
            out.append(chunk)
        return out

    def _open(self, hits: list[Hit]) -> list[Hit]:
        key = self._keys()
        out = []
        for hit in hits:
            if hit.text.startswith((MARK, INDEXED)):
                data_key = key(str(hit.metadata.get(DATA_SOURCE_ID, "")))
                if data_key is None:
                    raise ValueError(f"Chunk {hit.chunk_id} is sealed, but its data source has no key.")
                parent = hit.parent_text
                hit = replace(
                    hit,
                    text=_opened(data_key, hit.text),
                    parent_text=None if parent is None else _opened(data_key, parent),
                )
            out.append(hit)
        return out

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        self.inner.upsert(self._seal(chunks, self._keys()))

    def replace_document(self, document_id: str, chunks: Sequence[StoredChunk]) -> None:
        self.inner.replace_document(document_id, self._seal(chunks, self._keys()))

    def replace_documents(self, documents: Mapping[str, Sequence[StoredChunk]]) -> None:
        key = self._keys()
        self.inner.replace_documents({d: self._seal(chunks, key) for d, chunks in documents.items()})

    def delete_document(self, document_id: str) -> int:
        return self.inner.delete_document(document_id)

    def documents(self) -> dict[str, int]:
        return self.inner.documents()

    def search(self, vector: Sequence[float], k: int, filter: Filter | None = None) -> list[Hit]:
        return self._open(self.inner.search(vector, k, filter))

    def keyword_search(self, text: str, k: int, filter: Filter | None = None) -> list[Hit]:
        """The query's own words (for plain chunks) and its terms under each keyed data source's key."""
        key = self._keys()
        query = [text]
        for data_source in self.keyed():
            data_key = key(data_source)
            if data_key is not None:
                query.extend(terms(term_key(data_key), text))
        return self._open(self.inner.keyword_search(" ".join(query), k, filter))

    def hybrid_search(
        self, vector: Sequence[float], text: str, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Fused through this store, so the keyword half searches terms and its feedback reads opened text."""
        return fusion.hybrid_search(self, vector, text, k, filter)

    def count(self) -> int:
        return self.inner.count()

    def drop(self) -> None:
        self.inner.drop()

    def close(self) -> None:
        self.inner.close()


def _sealed(data_key: bytes, text: str) -> str:
    return MARK + base64.b64encode(seal(data_key, text.encode())).decode()


def _indexed(data_key: bytes, text: str) -> str:
    """A chunk text as the index holds it: the sealed blob, then its keyed terms."""
    blob = seal(data_key, text.encode()).hex()
    return f"{INDEXED}{blob}\n{' '.join(terms(term_key(data_key), text))}"


def _opened(data_key: bytes, text: str) -> str:
    if text.startswith(INDEXED):
        blob = bytes.fromhex(text[len(INDEXED) :].split("\n", 1)[0])
        return unseal(data_key, blob).decode()
    return unseal(data_key, base64.b64decode(text[len(MARK) :])).decode()
