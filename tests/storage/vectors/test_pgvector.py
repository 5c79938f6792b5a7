from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from outcrop.storage.vectors import VectorStore, parse_filter
from outcrop.storage.vectors.pgvector import PgVectorStore, where_clause

from .contract import VectorStoreContract, chunk, ids


class TestPgVectorContract(VectorStoreContract):
    @pytest.fixture
    def open_store(self, postgres: str) -> Iterator[Callable[..., VectorStore]]:
        prefix = "t" + uuid.uuid4().hex[:10]  # one database for the session: each test gets its own tables
        opened: list[PgVectorStore] = []

        def open_store(name: str, dimension: int = 4) -> VectorStore:
            full = name if " " in name else f"{prefix}_{name}"
            store = PgVectorStore(postgres, full, dimension, pool_size=2)
            opened.append(store)
            return store

        yield open_store
        for store in opened:
            store.close()


def test_filter_values_travel_as_parameters() -> None:
    parsed = parse_filter(
        {
            "andAll": [
                {"equals": {"key": "it's", "value": "'; DROP TABLE x; --"}},
                {"stringContains": {"key": "tags", "value": "%_"}},
            ]
        }
    )
    text, params = where_clause(parsed)
    assert "DROP" not in text and "it's" not in text and "%_" not in text
    assert params[:2] == ["it's", '"\'; DROP TABLE x; --"']


def test_term_statistics_follow_every_write(postgres: str) -> None:
    import psycopg

    store = PgVectorStore(postgres, "terms_" + uuid.uuid4().hex[:8], 4)
    try:
        store.upsert(
            [chunk("d1#0", [1, 0, 0, 0], "rockets fly high"), chunk("d2#0", [0, 1, 0, 0], "rockets")]
        )
        store.upsert([chunk("d1#0", [1, 0, 0, 0], "planes fly low")])  # same id: old words leave the counts
        store.replace_document(
            "d2", [chunk("d2#0", [0, 1, 0, 0], "gliders"), chunk("d2#1", [0, 1, 1, 0], "fly")]
        )
        store.replace_documents({"d3": [chunk("d3#0", [0, 0, 1, 0], "fly fly balloons")]})
        store.delete_document("d3")
        table = f"outcrop_vectors.{store.name}"
        with psycopg.connect(postgres) as conn:
            kept = dict(conn.execute(f"SELECT lexeme, df FROM {table}_terms WHERE df > 0").fetchall())
            truth = dict(
                conn.execute(
                    f"SELECT u.lexeme, count(*) FROM {table}, unnest(tsv) AS u GROUP BY 1"
                ).fetchall()
            )
            stats = conn.execute(f"SELECT n, total FROM {table}_stats").fetchone()
            real = conn.execute(f"SELECT count(*), sum(length(tsv)) FROM {table}").fetchone()
        assert kept == truth == {"plane": 1, "fli": 2, "low": 1, "glider": 1}
        assert stats == real
    finally:
        store.drop()
        store.close()


@pytest.fixture
def small(postgres: str) -> Iterator[PgVectorStore]:
    """A store that builds its HNSW index at 300 rows instead of 50k."""
    store = PgVectorStore(postgres, "small_" + uuid.uuid4().hex[:8], 16, index_threshold=300)
    yield store
    store.drop()
    store.close()


def test_hnsw_index_is_built_past_the_threshold_and_serves_queries(
    small: PgVectorStore, postgres: str
) -> None:
    import psycopg

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(400, 16)).astype(np.float32)
    for start in range(0, 400, 100):
        small.upsert(
            [chunk(f"d{i}#0", vectors[i].tolist(), metadata={"n": i}) for i in range(start, start + 100)]
        )
    assert small._indexed
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # so small a table would otherwise be scanned
        plan = conn.execute(
            f"EXPLAIN SELECT chunk_id FROM outcrop_vectors.{small.name}"
            " ORDER BY embedding <=> %s::vector LIMIT 5",
            ("[" + ",".join(["1"] * 16) + "]",),
        ).fetchall()
    assert any(f"{small.name}_hnsw" in line[0] for line in plan), plan
    assert ids(small.search(vectors[3].tolist(), 1)) == ["d3#0"]
    late = parse_filter({"greaterThanOrEquals": {"key": "n", "value": 390}})
    assert len(small.search(vectors[0].tolist(), 20, late)) == 10  # iterative scan: k after the filter


def test_embedded_postgres_is_idempotent_and_keeps_data_across_restarts(pg_tmp: Path) -> None:
    import psycopg

    from outcrop.storage.vectors.pgserver import EmbeddedPostgres

    server = EmbeddedPostgres(pg_tmp / "pgdata")
    uri = server.start()
    assert server.start() == uri
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    server.stop()
    server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(uri, connect_timeout=2).close()
    with EmbeddedPostgres(pg_tmp / "pgdata") as again, psycopg.connect(again.uri) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
