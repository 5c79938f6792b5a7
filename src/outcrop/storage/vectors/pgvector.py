"""The scalable vector store: PostgreSQL with pgvector, on the bundled server (pgserver.py) or the user's own.

One table per knowledge base in the `outcrop_vectors` schema: an HNSW index (cosine) once the table is large
enough to need one, a generated tsvector column with a GIN index for keyword search, and metadata as jsonb,
which filters reach through SQL with every value passed as a parameter. A write is one transaction, so a
replaced document swaps its chunks at once and is durable (fsynced WAL) when the call returns.

Keyword search ranks by BM25, not ts_rank: on Cranfield, nDCG@10 was 0.374 against 0.332 for the best ts_rank
normalisation (LanceDB's BM25: 0.384). PostgreSQL keeps no document frequencies, so each store keeps its own
(`<name>_terms`, `<name>_stats`), updated in the same transaction as the chunks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from outcrop.storage.vectors import (
    AndAll,
    Condition,
    Filter,
    Hit,
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
    import psycopg
    from psycopg import sql
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "the pgvector store needs the 'vectors' extra: pip install 'outcrop[vectors]'"
    ) from error

SCHEMA = "outcrop_vectors"
INDEX_THRESHOLD = 10_000  # rows; the exact scan costs ~1 us a row, and an HNSW index slows every write
EF_SEARCH = 100  # recall@10 0.997 at 200k (FINDINGS.md)
TEXT_CONFIG = "english"  # stemming and stop words for the tsvector, as Lance's FTS does
RESULT_COLUMNS = "chunk_id, document_id, text, parent_text, metadata"
K1, B = 1.2, 0.75  # BM25's usual constants, as LanceDB's


class PgVectorStore:
    """One knowledge base as one PostgreSQL table. Thread-safe: each call borrows a pooled connection."""

    def __init__(
        self,
        conninfo: str,
        name: str,
        dimension: int,
        *,
        index_threshold: int = INDEX_THRESHOLD,
        ef_search: int = EF_SEARCH,
        pool_size: int = 4,
    ) -> None:
        self.name = check_name(name)
        self.dimension = dimension
        self.index_threshold = index_threshold
        self.ef_search = ef_search
        self._table = sql.Identifier(SCHEMA, name)
        self._terms = sql.Identifier(SCHEMA, f"{name}_terms")
        self._stats = sql.Identifier(SCHEMA, f"{name}_stats")
        self._lock_key = f"{SCHEMA}.{name}"
        self._hnsw = sql.Identifier(f"{name}_hnsw")
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            open=True,
        )
        try:
            self._create()
        except BaseException:
            self._pool.close()
            raise

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """Session settings, once per pooled connection, so a query is one round trip. iterative_scan keeps
        walking the HNSW graph until k rows pass a filter, in exact distance order (pgvector 0.8); JIT
        compilation would add tens of ms to exact scans, which are short anyway."""
        conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, false),"
            " set_config('hnsw.iterative_scan', 'strict_order', false), set_config('jit', 'off', false)",
            (str(self.ef_search),),
        )

    def _create(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            # DDL races between processes opening the same store: one at a time, by an advisory lock.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('outcrop_vectors'))")
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
            found = conn.execute(
                "SELECT a.atttypmod FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = %s AND a.attname = 'embedding'",
                (SCHEMA, self.name),
            ).fetchone()
            if found is not None:
                if found[0] != self.dimension:
                    raise ValueError(
                        f"store {self.name!r} holds {found[0]}-dimensional vectors, not {self.dimension}"
                    )
            else:
                self._create_table(conn)
            self._indexed = self._has_index(conn)

    def _create_table(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {table} ("
                " chunk_id text PRIMARY KEY,"
                " document_id text NOT NULL,"
                " embedding vector({dimension}) NOT NULL,"
                " text text NOT NULL,"
                " parent_text text,"
                " metadata jsonb NOT NULL,"
                " tsv tsvector GENERATED ALWAYS AS (to_tsvector({config}, text)) STORED)"
            ).format(
                table=self._table,
                dimension=sql.Literal(self.dimension),
                config=sql.Literal(TEXT_CONFIG),
            )
        )
        for suffix, method in (("doc", "btree (document_id)"), ("tsv", "gin (tsv)")):
            conn.execute(
                sql.SQL("CREATE INDEX {} ON {} USING " + method).format(
                    sql.Identifier(f"{self.name}_{suffix}"), self._table
                )
            )
        conn.execute(
            sql.SQL("CREATE INDEX {} ON {} USING gin (metadata jsonb_path_ops)").format(
                sql.Identifier(f"{self.name}_meta"), self._table
            )
        )
        conn.execute(
            sql.SQL("CREATE TABLE {} (lexeme text PRIMARY KEY, df bigint NOT NULL)").format(self._terms)
        )
        conn.execute(
            sql.SQL("CREATE TABLE {} (n bigint NOT NULL, total bigint NOT NULL)").format(self._stats)
        )
        conn.execute(sql.SQL("INSERT INTO {} VALUES (0, 0)").format(self._stats))

    def _has_index(self, conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute(
            "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s", (SCHEMA, f"{self.name}_hnsw")
        ).fetchone()
        return row is not None

    # -- writes ----------------------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[StoredChunk]) -> None:
        if chunks:
            self._write(chunks, None)

    def replace_document(self, document_id: str, chunks: Sequence[StoredChunk]) -> None:
        self.replace_documents({document_id: chunks})

    def replace_documents(self, documents: Mapping[str, Sequence[StoredChunk]]) -> None:
        chunks = check_documents(documents)
        if documents:
            self._write(chunks, list(documents))

    def _write(self, chunks: Sequence[StoredChunk], replacing: list[str] | None) -> None:
        for chunk in chunks:
            check_chunk(chunk, self.dimension)
        rows = [
            (
                chunk.chunk_id,
                chunk.document_id,
                _vector(chunk.vector),
                chunk.text,
                chunk.parent_text,
                json.dumps(plain_metadata(chunk.metadata)),
            )
            for chunk in chunks
        ]
        insert = sql.SQL(
            "INSERT INTO {} (chunk_id, document_id, embedding, text, parent_text, metadata)"
            " VALUES (%s, %s, %s::vector, %s, %s, %s::jsonb)"
        ).format(self._table)
        ids = [chunk.chunk_id for chunk in chunks]
        with self._pool.connection() as conn:
            with conn.transaction():
                # Upserted chunk ids and replaced documents go first, taking their terms out of the counts.
                self._remove(conn, "chunk_id = ANY(%s) OR document_id = ANY(%s)", [ids, replacing or []])
                if rows:
                    with conn.cursor() as cursor:
                        cursor.executemany(insert, rows)
                    self._count_terms(conn, ids)
            self._maintain(conn)

    def delete_document(self, document_id: str) -> int:
        with self._pool.connection() as conn, conn.transaction():
            return self._remove(conn, "document_id = %s", [document_id])

    def _remove(self, conn: psycopg.Connection[Any], where: str, params: list[Any]) -> int:
        """Delete the matching chunks and subtract them from the term statistics. Takes the store's write
        lock first: writers updating the same term rows in different orders would deadlock."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._lock_key,))
        row = conn.execute(
            sql.SQL(
                "WITH gone AS (DELETE FROM {table} WHERE " + where + " RETURNING tsv),"
                " counted AS (SELECT u.lexeme, count(*) AS df FROM gone, unnest(gone.tsv) AS u GROUP BY 1),"
                " terms AS (UPDATE {terms} t SET df = t.df - counted.df FROM counted"
                " WHERE t.lexeme = counted.lexeme)"
                " UPDATE {stats} SET n = n - (SELECT count(*) FROM gone),"
                " total = total - (SELECT coalesce(sum(length(tsv)), 0) FROM gone)"
                " RETURNING (SELECT count(*) FROM gone)"
            ).format(table=self._table, terms=self._terms, stats=self._stats),
            params,
        ).fetchone()
        return int(row[0]) if row else 0

    def _count_terms(self, conn: psycopg.Connection[Any], ids: list[str]) -> None:
        conn.execute(
            sql.SQL(
                "WITH added AS (SELECT tsv FROM {table} WHERE chunk_id = ANY(%s)),"
                " counted AS (SELECT u.lexeme, count(*) AS df FROM added, unnest(added.tsv) AS u GROUP BY 1),"
                " terms AS (INSERT INTO {terms} SELECT lexeme, df FROM counted"
                " ON CONFLICT (lexeme) DO UPDATE SET df = {terms}.df + excluded.df)"
                " UPDATE {stats} SET n = n + (SELECT count(*) FROM added),"
                " total = total + (SELECT coalesce(sum(length(tsv)), 0) FROM added)"
            ).format(table=self._table, terms=self._terms, stats=self._stats),
            [ids],
        )

    def _maintain(self, conn: psycopg.Connection[Any]) -> None:
        """Build the HNSW index once the table crosses the threshold: one bulk build is far faster than
        growing the graph row by row, and exact search is better while the table is small."""
        if self._indexed or self._count(conn) < self.index_threshold:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._lock_key,))
            # The graph must fit in maintenance_work_mem, or the build slows down by an order of magnitude.
            conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            conn.execute(
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding vector_cosine_ops)"
                ).format(self._hnsw, self._table)
            )
        self._indexed = True

    # -- reads -----------------------------------------------------------------------------------------------

    def documents(self) -> dict[str, int]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                sql.SQL("SELECT document_id, count(*) FROM {} GROUP BY document_id").format(self._table)
            ).fetchall()
        return {document_id: count for document_id, count in rows}

    def count(self) -> int:
        with self._pool.connection() as conn:
            return self._count(conn)

    def _count(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self._table)).fetchone()
        assert row is not None
        return int(row[0])

    def search(self, vector: Sequence[float], k: int, filter: Filter | None = None) -> list[Hit]:
        check_k(k)
        check_vector(vector, self.dimension)
        where, params = where_clause(filter)
        query = sql.SQL(
            "SELECT "
            + RESULT_COLUMNS
            + ", embedding <=> %s::vector AS distance FROM {} WHERE "
            + where
            # ORDER BY repeats the operator expression, not its alias, so that the HNSW index serves it
            + " ORDER BY embedding <=> %s::vector LIMIT %s"
        ).format(self._table)
        text = _vector(vector)
        with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            if k <= self.ef_search:
                rows = cursor.execute(query, [text, *params, text, k]).fetchall()
            else:  # the graph search returns at most ef_search rows: raise it for this query only
                with conn.transaction():
                    conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(k),))
                    rows = cursor.execute(query, [text, *params, text, k]).fetchall()
        return [_hit(row, 1.0 - row["distance"] / 2.0) for row in rows]

    def keyword_search(self, text: str, k: int, filter: Filter | None = None) -> list[Hit]:
        """BM25 over the chunks holding any query word (an OR query, as BM25 retrieval does). The GIN index
        finds the candidates; each one's term frequencies come from its tsvector, and a document's length is
        its number of distinct words."""
        check_k(k)
        where, params = where_clause(filter)
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s))", (TEXT_CONFIG, text)
            ).fetchone()
            lexemes = row[0] if row else []
            if not lexemes:
                return []
            tsquery = " | ".join(_quote_lexeme(lexeme) for lexeme in lexemes)
            query = sql.SQL(
                "WITH s AS (SELECT n::float8 AS n, total::float8 / greatest(n, 1) AS avgdl FROM {stats}),"
                " q AS (SELECT t.lexeme, ln(1 + (s.n - t.df + 0.5) / (t.df + 0.5)) AS idf FROM {terms} t, s"
                " WHERE t.lexeme = ANY(%s) AND t.df > 0)"
                " SELECT c.chunk_id, c.document_id, c.text, c.parent_text, c.metadata,"
                " sum(q.idf * cardinality(u.positions) * {k1_1}"
                " / (cardinality(u.positions) + {k1} * (1 - {b} + {b} * length(c.tsv) / s.avgdl))) AS rank"
                " FROM {table} c CROSS JOIN LATERAL unnest(c.tsv) AS u"
                " JOIN q ON q.lexeme = u.lexeme CROSS JOIN s"
                " WHERE c.tsv @@ %s::tsquery AND "
                + where
                + " GROUP BY c.chunk_id ORDER BY rank DESC LIMIT %s"
            ).format(
                stats=self._stats,
                terms=self._terms,
                table=self._table,
                k1_1=sql.Literal(K1 + 1),
                k1=sql.Literal(K1),
                b=sql.Literal(B),
            )
            cursor = conn.cursor(row_factory=dict_row)
            rows = cursor.execute(query, [lexemes, tsquery, *params, k]).fetchall()
        return [_hit(row, row["rank"] / (1.0 + row["rank"])) for row in rows]

    def hybrid_search(
        self, vector: Sequence[float], text: str, k: int, filter: Filter | None = None
    ) -> list[Hit]:
        return fusion.hybrid_search(self, vector, text, k, filter)

    # -- lifetime --------------------------------------------------------------------------------------------

    def drop(self) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                sql.SQL("DROP TABLE IF EXISTS {}, {}, {}").format(self._table, self._terms, self._stats)
            )

    def close(self) -> None:
        self._pool.close()


# -- the filter in SQL ---------------------------------------------------------------------------------------


def where_clause(filter: Filter | None) -> tuple[str, list[Any]]:
    """Translate a filter to a SQL predicate over the jsonb `metadata` column and its parameters. The SQL text
    comes only from the constants below; keys and values always travel as parameters."""
    if filter is None:
        return "true", []
    if isinstance(filter, AndAll | OrAll):
        joiner = " AND " if isinstance(filter, AndAll) else " OR "
        parts = [where_clause(part) for part in filter.filters]
        return "(" + joiner.join(text for text, _ in parts) + ")", [p for _, params in parts for p in params]
    return _condition(filter)


def _condition(condition: Condition) -> tuple[str, list[Any]]:
    op, key, value = condition.op, condition.key, condition.value
    if op in ("notEquals", "notIn"):
        text, params = _condition(Condition("equals" if op == "notEquals" else "in", key, value))
        return f"({text}) IS NOT TRUE", params  # chunks without the key pass, as OpenSearch's must_not does
    if op == "equals":
        # jsonb equality is typed (2024 never equals "2024") and numeric (2024 equals 2024.0)
        return "metadata -> %s::text = %s::jsonb", [key, json.dumps(value)]
    if op == "in":
        assert isinstance(value, tuple)
        return "metadata -> %s::text = ANY(%s::jsonb[])", [key, [json.dumps(option) for option in value]]
    if op in ("greaterThan", "greaterThanOrEquals", "lessThan", "lessThanOrEquals"):
        sign = {"greaterThan": ">", "greaterThanOrEquals": ">=", "lessThan": "<", "lessThanOrEquals": "<="}
        return (
            f"(jsonb_typeof(metadata -> %s::text) = 'number' AND metadata -> %s::text {sign[op]} %s::jsonb)",
            [key, key, json.dumps(value)],
        )
    if op == "startsWith":
        return (
            "(jsonb_typeof(metadata -> %s::text) = 'string' AND starts_with(metadata ->> %s::text, %s))",
            [key, key, value],
        )
    if op == "listContains":
        return (
            "(jsonb_typeof(metadata -> %s::text) = 'array' AND metadata -> %s::text @> %s::jsonb)",
            [key, key, json.dumps([value])],
        )
    # stringContains: a substring of the string, or of any member of the list (CASE keeps
    # jsonb_array_elements_text away from non-arrays, where it would raise)
    return (
        "(CASE jsonb_typeof(metadata -> %s::text)"
        " WHEN 'string' THEN strpos(metadata ->> %s::text, %s) > 0"
        " WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements_text(metadata -> %s::text) AS member"
        " WHERE strpos(member, %s) > 0)"
        " ELSE false END)",
        [key, key, value, key, value],
    )


def _vector(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def _quote_lexeme(lexeme: str) -> str:
    """A lexeme as a quoted tsquery operand, taken verbatim (already stemmed by the tsvector)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _hit(row: dict[str, Any], score: float) -> Hit:
    return Hit(
        chunk_id=row["chunk_id"],
        document_id=row["document_id"],
        text=row["text"],
        metadata=row["metadata"],
        parent_text=row["parent_text"],
        score=min(1.0, max(0.0, score)),
    )
