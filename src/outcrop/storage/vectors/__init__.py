"""Vector stores for knowledge bases: one Protocol, its data types and Bedrock's metadata filter model.

A store holds the chunks of one knowledge base (its `name` is the namespace). Two implementations pass the
same contract suite (tests/storage/vectors): LanceDB embedded in the data dir (`lance.py`, the default) and
PostgreSQL with pgvector (`pgvector.py`). The filter model is parsed once from Bedrock's `RetrievalFilter`
dict and each store translates it to its own query language; `matches` is the reference semantics both must
agree with.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, TypeGuard, get_args

MetadataValue: TypeAlias = str | float | bool | list[str]
"""What a chunk's metadata may hold, as Bedrock's sidecar files do: STRING, NUMBER, BOOLEAN, STRING_LIST.
Integers are accepted and compared as numbers."""

Scalar: TypeAlias = str | float | bool

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}")
MAX_KEY_LENGTH = 100  # Bedrock's FilterAttribute key limit


@dataclass(frozen=True)
class StoredChunk:
    """One chunk as ingestion writes it. `parent_text` is the parent chunk of hierarchical chunking: search
    runs on the child's text and vector, retrieval returns the parent."""

    chunk_id: str
    document_id: str
    vector: Sequence[float]
    text: str
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)
    parent_text: str | None = None


@dataclass(frozen=True)
class Hit:
    """A search result. `score` is in [0, 1], higher is better: (1 + cosine) / 2 for semantic search (as
    OpenSearch scores cosine), bm25 / (1 + bm25) for keyword search, and fused rank scaled to 1 for hybrid
    search."""

    chunk_id: str
    document_id: str
    text: str
    metadata: dict[str, MetadataValue]
    parent_text: str | None
    score: float


class VectorStore(Protocol):
    """The chunks of one knowledge base. Every write is durable when it returns and lands in one commit, so a
    reader sees all of it or none of it. Safe to call from several threads."""

    name: str
    dimension: int

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        """Insert the chunks, replacing any with the same chunk id, in one commit."""
        ...

    def replace_document(self, document_id: str, chunks: Sequence[StoredChunk]) -> None:
        """Swap a document's chunks for `chunks` in one commit: searches see the old set or the new, never a
        mix. An empty `chunks` deletes the document."""
        ...

    def replace_documents(self, documents: Mapping[str, Sequence[StoredChunk]]) -> None:
        """`replace_document` for several documents in one commit: how ingestion should write a batch, since
        a commit can cost a scan of the table (LanceDB: ~130 ms at 100k rows)."""
        ...

    def delete_document(self, document_id: str) -> int:
        """Remove a document's chunks; returns how many there were."""
        ...

    def documents(self) -> dict[str, int]:
        """Every document id with its number of chunks."""
        ...

    def search(self, vector: Sequence[float], k: int, filter: Filter | None = None) -> list[Hit]:
        """The k chunks nearest to `vector` by cosine similarity that pass `filter`, best first."""
        ...

    def keyword_search(self, text: str, k: int, filter: Filter | None = None) -> list[Hit]:
        """The k chunks that best match `text` as a bag of words (BM25 or the engine's nearest), best
        first."""
        ...

    def hybrid_search(
        self, vector: Sequence[float], text: str, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        """Semantic and keyword results fused by reciprocal rank (see fusion.py), best first."""
        ...

    def count(self) -> int: ...

    def drop(self) -> None:
        """Delete the store and its data for good; only `close` may follow."""
        ...

    def close(self) -> None: ...


# -- the filter model ----------------------------------------------------------------------------------------

Operator: TypeAlias = Literal[
    "equals",
    "notEquals",
    "greaterThan",
    "greaterThanOrEquals",
    "lessThan",
    "lessThanOrEquals",
    "in",
    "notIn",
    "startsWith",
    "listContains",
    "stringContains",
]
OPERATORS: tuple[str, ...] = get_args(Operator)
RANGE_OPERATORS = ("greaterThan", "greaterThanOrEquals", "lessThan", "lessThanOrEquals")


@dataclass(frozen=True)
class Condition:
    """One leaf of a RetrievalFilter. `value` is a tuple for `in`/`notIn`, else a scalar; numbers are
    floats."""

    op: Operator
    key: str
    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class AndAll:
    filters: tuple[Filter, ...]


@dataclass(frozen=True)
class OrAll:
    filters: tuple[Filter, ...]


Filter: TypeAlias = Condition | AndAll | OrAll


def parse_filter(raw: Any, path: str = "filter") -> Filter:
    """Parse Bedrock's RetrievalFilter dict (`{"andAll": [{"equals": {"key": "year", "value": 2024}}, ...]}`).
    Raises ValueError naming the faulty part, so the service can answer a ValidationException with it."""
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise ValueError(f"{path} must be an object with exactly one operator, got {_show(raw)}")
    ((op, body),) = raw.items()
    where = f"{path}.{op}"
    if op in ("andAll", "orAll"):
        if not isinstance(body, list) or len(body) < 2:
            raise ValueError(f"{where} must be a list of at least 2 filters, got {_show(body)}")
        parts = tuple(parse_filter(item, f"{where}[{i}]") for i, item in enumerate(body))
        return AndAll(parts) if op == "andAll" else OrAll(parts)
    if op not in OPERATORS:
        known = ", ".join((*OPERATORS, "andAll", "orAll"))
        raise ValueError(f"{path} has unknown operator {op!r}; expected one of {known}")
    if not isinstance(body, Mapping) or set(body) != {"key", "value"}:
        raise ValueError(f"{where} must be an object with exactly 'key' and 'value', got {_show(body)}")
    key = body["key"]
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ValueError(
            f"{where}.key must be a string of 1 to {MAX_KEY_LENGTH} characters, got {_show(key)}"
        )
    return Condition(op, key, _parse_value(op, body["value"], f"{where}.value"))


def _parse_value(op: str, value: Any, where: str) -> Scalar | tuple[Scalar, ...]:
    if op in ("in", "notIn"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where} must be a non-empty list, got {_show(value)}")
        return tuple(_scalar(item, f"{where}[{i}]") for i, item in enumerate(value))
    if op in RANGE_OPERATORS:
        if not _is_number(value):
            raise ValueError(f"{where} must be a number for {op}, got {_show(value)}")
        return _finite(float(value), where)
    if op in ("startsWith", "listContains", "stringContains"):
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string for {op}, got {_show(value)}")
        return value
    return _scalar(value, where)


def _scalar(value: Any, where: str) -> Scalar:
    if isinstance(value, bool | str):
        return value
    if _is_number(value):
        return _finite(float(value), where)
    raise ValueError(f"{where} must be a string, number or boolean, got {_show(value)}")


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(number: float, where: str) -> float:
    if not math.isfinite(number):
        raise ValueError(f"{where} must be a finite number, got {number}")
    return number


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def matches(filter: Filter, metadata: Mapping[str, MetadataValue]) -> bool:
    """The reference semantics of a filter on one chunk's metadata, which every store's translation must
    follow. Comparisons are typed (the number 2024 never equals the string "2024"); a negation (notEquals,
    notIn) also passes chunks that lack the key, as OpenSearch's must_not does under Bedrock."""
    if isinstance(filter, AndAll):
        return all(matches(part, metadata) for part in filter.filters)
    if isinstance(filter, OrAll):
        return any(matches(part, metadata) for part in filter.filters)
    op, value = filter.op, filter.value
    actual = metadata.get(filter.key)
    if op == "notEquals":
        return not matches(Condition("equals", filter.key, value), metadata)
    if op == "notIn":
        return not matches(Condition("in", filter.key, value), metadata)
    if op == "equals":
        return _same(actual, value)
    if op == "in":
        assert isinstance(value, tuple)
        return any(_same(actual, option) for option in value)
    if op in RANGE_OPERATORS:
        if not _is_number(actual):
            return False
        assert isinstance(value, float)
        number, bound = float(actual), value
        return {
            "greaterThan": number > bound,
            "greaterThanOrEquals": number >= bound,
            "lessThan": number < bound,
            "lessThanOrEquals": number <= bound,
        }[op]
    assert isinstance(value, str)
    if op == "startsWith":
        return isinstance(actual, str) and actual.startswith(value)
    if op == "listContains":
        return isinstance(actual, list) and value in actual
    # stringContains: a substring of the string, or of any member of the string list
    if isinstance(actual, str):
        return value in actual
    return isinstance(actual, list) and any(value in member for member in actual)


def _same(actual: MetadataValue | None, expected: Scalar | tuple[Scalar, ...]) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and actual == expected
    if isinstance(expected, float):
        return _is_number(actual) and float(actual) == expected
    return isinstance(actual, str) and actual == expected


# -- validation shared by the stores -------------------------------------------------------------------------


def check_name(name: str) -> str:
    """Store names become table names, so they are kept to a safe alphabet (a knowledge base id fits)."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"store name must match {NAME_PATTERN.pattern}, got {name!r}")
    return name


def check_chunk(chunk: StoredChunk, dimension: int) -> None:
    """Refuse what a store could not search correctly: wrong dimension, non-finite or zero vectors (no
    cosine), metadata outside Bedrock's types."""
    if not chunk.chunk_id or not chunk.document_id:
        raise ValueError("chunk_id and document_id must be non-empty")
    check_vector(chunk.vector, dimension, f"chunk {chunk.chunk_id!r}")
    for key, value in chunk.metadata.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise ValueError(f"chunk {chunk.chunk_id!r}: metadata key {key!r} must be 1 to 100 characters")
        if isinstance(value, bool | str):
            continue
        if _is_number(value):
            _finite(float(value), f"chunk {chunk.chunk_id!r} metadata {key!r}")
            continue
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            continue
        raise ValueError(
            f"chunk {chunk.chunk_id!r}: metadata {key!r} must be a string, number, boolean or list of strings"
        )


def check_vector(vector: Sequence[float], dimension: int, what: str = "query vector") -> None:
    if len(vector) != dimension:
        raise ValueError(f"{what} has {len(vector)} dimensions, the store has {dimension}")
    norm = math.fsum(x * x for x in vector)
    if not math.isfinite(norm) or norm == 0.0:
        raise ValueError(f"{what} must be finite and non-zero")


def check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def check_documents(documents: Mapping[str, Sequence[StoredChunk]]) -> list[StoredChunk]:
    """All the chunks of a replace_documents call, each checked to belong to the document listed."""
    flat: list[StoredChunk] = []
    for document_id, chunks in documents.items():
        strays = {chunk.document_id for chunk in chunks} - {document_id}
        if strays:
            raise ValueError(
                f"chunks listed under {document_id!r} belong to other documents: {sorted(strays)}"
            )
        flat.extend(chunks)
    return flat


def plain_metadata(metadata: Mapping[str, MetadataValue]) -> dict[str, MetadataValue]:
    """Metadata as stored: numbers as floats, lists copied, so both stores return the same shapes."""
    out: dict[str, MetadataValue] = {}
    for key, value in metadata.items():
        if isinstance(value, bool | str):
            out[key] = value
        elif isinstance(value, list):
            out[key] = list(value)
        else:
            out[key] = float(value)
    return out
