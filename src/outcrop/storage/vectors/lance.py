"""The default vector store: LanceDB, embedded in the data dir, so a knowledge base needs no server.

Chosen by measurement (FINDINGS.md): IVF_HNSW_SQ reached recall@10 0.994 at 200k vectors with prefiltered
search, several processes can share a table, and it ships a native BM25 full-text index. Below
`index_threshold` rows the search is exact, which is both fast enough and perfectly accurate.

Each metadata key becomes a typed column (`m_<hex of key>_<s|n|b|l>`: string, number, boolean, string list),
added when a key first appears, so filters run as SQL prefilters instead of as Python over every row. The
whole metadata is kept as JSON beside them to return it as written.
"""

from __future__ import annotations

import ctypes
import functools
import json
import math
import os
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from outcrop.storage.vectors import (
    AndAll,
    Condition,
    Filter,
    Hit,
    MetadataValue,
    OrAll,
    StoredChunk,
    check_chunk,
    check_documents,
    check_k,
    check_name,
    check_vector,
    fusion,
    plain_metadata,
)

try:
    import lancedb
    import pyarrow as pa
    from lancedb.index import FTS, HnswSq
    from lancedb.query import FullTextOperator, MatchQuery
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "the LanceDB vector store needs the 'vectors' extra: pip install 'outcrop[vectors]'"
    ) from error

INDEX_THRESHOLD = 10_000  # rows; exact search costs ~1 us a row here, so past this an index pays
OPTIMIZE_EVERY = 32  # writes between compactions (LanceDB's advice: every ~20 modifications)
OPTIMIZE_ROWS = 5_000  # or rows written: unindexed rows are searched exactly, vector and full text alike
# An optimize rewrites the whole full-text index: 8 s for the vector index but 176 s in all at 520k rows
# on 2 cores. So past 25k rows the intervals grow with the table (a fifth of it, in rows or in writes of
# 1,000 rows): the rewrites then cost about 6x the final table's size in all, instead of growing with the
# square of it, while at most a sixth of the rows wait unindexed (searched exactly).
OPTIMIZE_SHARE = 0.2
MAX_DELTAS = 8  # optimize adds new rows as small delta indexes, each searched apart: rebuild past this
# Measured at 100k clustered 384-d rows: 64 partitions, 8 probed, re-ranking 2k candidates on the full
# vectors (undoing the scalar quantizer's rounding) gave recall@10 0.999 at 7 ms; one partition gave 12 ms
# and a 3x slower build. Builds use sqrt(rows) / 4 partitions (79 at 100k).
NPROBES = 8
EF = 64
REFINE_FACTOR = 2
RESULT_COLUMNS = ["chunk_id", "document_id", "text", "parent_text", "metadata"]  # and _distance or _score

_TYPES = {"s": pa.string(), "n": pa.float64(), "b": pa.bool_(), "l": pa.list_(pa.string())}


class LanceVectorStore:
    """One knowledge base as one Lance table under `directory`. Writes are serialised by a lock (and by
    Lance's optimistic commits across processes); reads run in parallel and always see the latest commit."""

    def __init__(self, directory: Path, name: str, dimension: int, *, index_threshold: int = INDEX_THRESHOLD):
        self.name = check_name(name)
        self.dimension = dimension
        self.index_threshold = index_threshold
        self._directory = Path(directory)
        self._directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writes = 0
        self._rows_written = 0
        # An interval of 0 makes every read check for a newer version, so other processes' commits show at
        # once.
        self._db = lancedb.connect(self._directory, read_consistency_interval=timedelta(0))
        if (self._directory / f"{name}.lance").exists():
            self._table = self._db.open_table(name)
            found = self._table.schema.field("vector").type.list_size
            if found != dimension:
                raise ValueError(f"store {name!r} holds {found}-dimensional vectors, not {dimension}")
        else:
            self._table = self._db.create_table(name, schema=self._base_schema())
            self._table.create_index("text", config=FTS(with_position=False))
            _sync(self._directory)
        self._index_rows = self._indexed_rows()  # rows when the vector index was built, 0 without one

    def _base_schema(self) -> pa.Schema:
        return pa.schema(
            [
                pa.field("chunk_id", pa.string(), nullable=False),
                pa.field("document_id", pa.string(), nullable=False),
                pa.field("vector", pa.list_(pa.float32(), self.dimension), nullable=False),
                pa.field("text", pa.string(), nullable=False),
                pa.field("parent_text", pa.string()),
                pa.field("metadata", pa.string(), nullable=False),
            ]
        )

    # -- writes ----------------------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        if chunks:
            self._write(chunks, None)

    def replace_document(self, document_id: str, chunks: Sequence[StoredChunk]) -> None:
        self.replace_documents({document_id: chunks})

    def replace_documents(self, documents: Mapping[str, Sequence[StoredChunk]]) -> None:
        chunks = check_documents(documents)
        if not documents:
            return
        if not chunks:
            self._delete(_in_list("document_id", documents))
        else:
            self._write(chunks, list(documents))

    def _write(self, chunks: Sequence[StoredChunk], replacing: list[str] | None) -> None:
        """One merge_insert, one commit: upserted rows and (when replacing) the documents' other rows
        deleted."""
        for chunk in chunks:
            check_chunk(chunk, self.dimension)
        with self._lock:
            self._add_metadata_columns(chunks)
            data = self._rows(chunks)
            merge = (
                self._table.merge_insert("chunk_id").when_matched_update_all().when_not_matched_insert_all()
            )
            if replacing is not None:
                merge = merge.when_not_matched_by_source_delete(_in_list("document_id", replacing))
            merge.execute(data)
            _sync(self._directory)
            self._maintain(len(chunks))

    def delete_document(self, document_id: str) -> int:
        return self._delete(f"document_id = {_literal(document_id)}")

    def _delete(self, where: str) -> int:
        with self._lock:
            found = self._table.count_rows(where)
            if found:
                self._table.delete(where)
                _sync(self._directory)
                self._maintain(found)
            return found

    def _add_metadata_columns(self, chunks: Sequence[StoredChunk]) -> None:
        existing = set(self._table.schema.names)
        wanted = {_column(key, value) for chunk in chunks for key, value in chunk.metadata.items()}
        new = sorted(wanted - existing)
        if new:
            self._table.add_columns([pa.field(column, _TYPES[column[-1]]) for column in new])

    def _rows(self, chunks: Sequence[StoredChunk]) -> pa.Table:
        schema = self._table.schema
        columns: dict[str, list[Any]] = {
            "chunk_id": [chunk.chunk_id for chunk in chunks],
            "document_id": [chunk.document_id for chunk in chunks],
            "vector": [list(map(float, chunk.vector)) for chunk in chunks],
            "text": [chunk.text for chunk in chunks],
            "parent_text": [chunk.parent_text for chunk in chunks],
            "metadata": [json.dumps(plain_metadata(chunk.metadata)) for chunk in chunks],
        }
        typed = [{_column(key, value): value for key, value in chunk.metadata.items()} for chunk in chunks]
        for name in schema.names:
            if name.startswith("m_"):
                columns[name] = [row.get(name) for row in typed]
        return pa.Table.from_pydict(columns, schema=schema)

    def _maintain(self, rows: int) -> None:
        """Build the ANN index once the table is large enough, and again each time it doubles (so the IVF
        partitions fit its size; the builds cost about twice the last one in all). In between, compact and
        fold new rows into the indexes every few thousand rows, or every fifth of the table once it is large;
        until then Lance searches unindexed rows exactly, so nothing is missed meanwhile."""
        self._writes += 1
        self._rows_written += rows
        total = self._table.count_rows()
        if total >= self.index_threshold and total >= 2 * self._index_rows:
            self._build_index(total)
        elif self._optimize_due(total):
            self._table.optimize(cleanup_older_than=timedelta(hours=1))
            if self._index_rows and self._deltas() > MAX_DELTAS:
                self._build_index(total)
        else:
            return
        self._writes = self._rows_written = 0
        _sync(self._directory)

    def _optimize_due(self, total: int) -> bool:
        writes = max(OPTIMIZE_EVERY, OPTIMIZE_SHARE * total / 1_000)
        rows = max(OPTIMIZE_ROWS, OPTIMIZE_SHARE * total)
        return self._writes >= writes or self._rows_written >= rows

    def _build_index(self, rows: int) -> None:
        partitions = max(1, int(math.sqrt(rows) / 4))
        self._table.create_index("vector", config=HnswSq(distance_type="cosine", num_partitions=partitions))
        self._index_rows = rows

    def _vector_index(self) -> Any:
        """The vector index's description (list_indices, unlike index_stats, costs no warning), or None."""
        return next((i for i in self._table.list_indices() if i.columns == ["vector"]), None)

    def _indexed_rows(self) -> int:
        index = self._vector_index()
        return (index.num_indexed_rows or 0) if index else 0

    def _deltas(self) -> int:
        index = self._vector_index()
        return (index.num_segments or 1) if index else 0

    # -- reads -----------------------------------------------------------------------------------------------

    def documents(self) -> dict[str, int]:
        ids = self._table.search().select(["document_id"]).limit(None).to_arrow()
        counts = ids.group_by("document_id").aggregate([("document_id", "count")])
        return dict(
            zip(counts["document_id"].to_pylist(), counts["document_id_count"].to_pylist(), strict=True)
        )

    def count(self) -> int:
        return self._table.count_rows()

    def search(self, vector: Sequence[float], k: int, filter: Filter | None = None) -> list[Hit]:
        check_k(k)
        check_vector(vector, self.dimension)
        query: Any = self._table.search(list(map(float, vector)), vector_column_name="vector")
        query = query.distance_type("cosine")
        query = query.nprobes(NPROBES).ef(max(EF, 2 * k)).refine_factor(REFINE_FACTOR)
        rows = self._filtered(query, filter).select([*RESULT_COLUMNS, "_distance"]).limit(k).to_list()
        return [_hit(row, 1.0 - row["_distance"] / 2.0) for row in rows]

    def keyword_search(self, text: str, k: int, filter: Filter | None = None) -> list[Hit]:
        check_k(k)
        if not text.strip():
            return []
        match = MatchQuery(
            text,
            "text",
            operator=FullTextOperator.OR,  # any word may match, as BM25 retrieval expects
            boost=1.0,
            fuzziness=0,
            max_expansions=50,
            prefix_length=0,
            document_granularity=None,
        )
        query: Any = self._table.search(match, query_type="fts")
        rows = self._filtered(query, filter).select([*RESULT_COLUMNS, "_score"]).limit(k).to_list()
        return [_hit(row, row["_score"] / (1.0 + row["_score"])) for row in rows]

    def hybrid_search(
        self, vector: Sequence[float], text: str, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        return fusion.hybrid_search(self, vector, text, k, filter)

    def _filtered(self, query: Any, filter: Filter | None) -> Any:
        if filter is None:
            return query
        return query.where(where_clause(filter, set(self._table.schema.names)), prefilter=True)

    # -- lifetime --------------------------------------------------------------------------------------------

    def drop(self) -> None:
        with self._lock:
            self._db.drop_table(self.name)
            _sync(self._directory)

    def close(self) -> None:
        """Nothing to release: Lance holds no server and no open transaction between calls."""


# -- the filter in Lance's SQL -------------------------------------------------------------------------------


def _column(key: str, value: MetadataValue | str | float | bool) -> str:
    """The typed column of a metadata key: hex keeps any key a plain identifier, the tag keeps types apart."""
    if isinstance(value, bool):
        tag = "b"
    elif isinstance(value, str):
        tag = "s"
    elif isinstance(value, list):
        tag = "l"
    else:
        tag = "n"
    return f"m_{key.encode().hex()}_{tag}"


def _in_list(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(_literal(value) for value in values)})"


def _literal(value: str | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value))  # finite: the filter parser refuses NaN and infinities


def where_clause(filter: Filter, columns: set[str]) -> str:
    """Translate a filter to a Lance SQL predicate. A column that does not exist yet means no chunk has that
    key with that type, so its comparisons fold to false here instead of failing in the engine."""
    if isinstance(filter, AndAll | OrAll):
        joiner = " AND " if isinstance(filter, AndAll) else " OR "
        return "(" + joiner.join(where_clause(part, columns) for part in filter.filters) + ")"
    return _condition(filter, columns)


def _condition(condition: Condition, columns: set[str]) -> str:
    op, key, value = condition.op, condition.key, condition.value

    def column(tag: str) -> str | None:
        name = f"m_{key.encode().hex()}_{tag}"
        return name if name in columns else None

    if op in ("notEquals", "notIn"):
        positive = Condition("equals" if op == "notEquals" else "in", key, value)
        return (
            f"({_condition(positive, columns)}) IS NOT TRUE"  # chunks without the key pass, as in OpenSearch
        )
    if op in ("equals", "in"):
        options = value if isinstance(value, tuple) else (value,)
        parts = []
        for tag in ("s", "n", "b"):
            found = column(tag)
            same = [option for option in options if _column(key, option)[-1] == tag]
            if found and same:
                parts.append(f"{found} IN ({', '.join(_literal(option) for option in same)})")
        return "(" + " OR ".join(parts) + ")" if parts else "false"
    assert not isinstance(value, tuple)
    if op in ("greaterThan", "greaterThanOrEquals", "lessThan", "lessThanOrEquals"):
        sign = {"greaterThan": ">", "greaterThanOrEquals": ">=", "lessThan": "<", "lessThanOrEquals": "<="}[
            op
        ]
        found = column("n")
        return f"{found} {sign} {_literal(value)}" if found else "false"
    assert isinstance(value, str)
    strings, lists = column("s"), column("l")
    if op == "startsWith":
        return f"starts_with({strings}, {_literal(value)})" if strings else "false"
    if op == "listContains":
        return f"array_has({lists}, {_literal(value)})" if lists else "false"
    parts = []  # stringContains: in the string, or in any member of the string list
    if strings:
        parts.append(f"strpos({strings}, {_literal(value)}) > 0" if value else f"{strings} IS NOT NULL")
    if lists:
        if value:
            separator = _separator(
                value
            )  # members are joined by a character the needle lacks: no false spans
            parts.append(f"strpos(array_to_string({lists}, {_literal(separator)}), {_literal(value)}) > 0")
        else:
            parts.append(f"array_length({lists}) > 0")
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def _separator(needle: str) -> str:
    return next(chr(code) for code in _separator_codes() if chr(code) not in needle)


def _separator_codes() -> Iterable[int]:
    yield from range(0x1F, 0x00, -1)
    yield from range(
        0xE000, 0xF900
    )  # private use: a needle cannot hold all of them and the control characters


def _hit(row: dict[str, Any], score: float) -> Hit:
    return Hit(
        chunk_id=row["chunk_id"],
        document_id=row["document_id"],
        text=row["text"],
        metadata=json.loads(row["metadata"]),
        parent_text=row["parent_text"],
        score=min(1.0, max(0.0, score)),
    )


def _sync(directory: Path) -> None:
    """Make the last commit durable. Lance writes its files without fsync, so flush the file system holding
    the store (syncfs on Linux: one call covers every new data, manifest and index file), else every file
    system."""
    syncfs = _syncfs()
    if syncfs is not None:
        fd = os.open(directory, os.O_RDONLY)
        try:
            if syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    os.sync()


@functools.cache
def _syncfs() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(None, use_errno=True).syncfs
