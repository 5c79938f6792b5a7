from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from outcrop.storage.vectors import VectorStore, parse_filter
from outcrop.storage.vectors.lance import LanceVectorStore, where_clause

from .contract import VectorStoreContract, chunk, ids


class TestLanceContract(VectorStoreContract):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> Callable[..., VectorStore]:
        def open_store(name: str, dimension: int = 4) -> VectorStore:
            return LanceVectorStore(tmp_path / "vectors", name, dimension)

        return open_store


@pytest.fixture
def small(tmp_path: Path) -> Iterator[LanceVectorStore]:
    """A store that builds its ANN index at 300 rows instead of 50k."""
    store = LanceVectorStore(tmp_path / "vectors", "small", 16, index_threshold=300)
    yield store
    store.close()


def test_where_clause_folds_unknown_columns_and_escapes() -> None:
    columns = {"m_" + b"genre".hex() + "_s"}
    parsed = parse_filter(
        {
            "orAll": [
                {"equals": {"key": "genre", "value": "it's"}},
                {"greaterThan": {"key": "year", "value": 3}},
                {"notIn": {"key": "genre", "value": ["a", 1]}},
            ]
        }
    )
    column = "m_" + b"genre".hex() + "_s"
    assert where_clause(parsed, columns) == (
        f"(({column} IN ('it''s')) OR false OR (({column} IN ('a'))) IS NOT TRUE)"
    )


def test_index_is_built_past_the_threshold_and_search_stays_accurate(small: LanceVectorStore) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(600, 16)).astype(np.float32)
    for start in range(0, 600, 100):
        small.upsert(
            [
                chunk(f"d{i}#0", vectors[i].tolist(), f"word{i % 7}", metadata={"n": i})
                for i in range(start, start + 100)
            ]
        )
    assert small._index_rows == 600
    normed = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    found = 0
    for _ in range(20):
        query = rng.normal(size=16)
        exact = {f"d{i}#0" for i in np.argsort(-(normed @ (query / np.linalg.norm(query))))[:10]}
        found += len(exact & set(ids(small.search(query.tolist(), 10))))
    assert found / 200 >= 0.9
    late = parse_filter({"greaterThanOrEquals": {"key": "n", "value": 590}})
    assert (
        len(small.search(vectors[0].tolist(), 20, late)) == 10
    )  # prefiltered, not cut to k before filtering


def test_concurrent_readers_and_writers(small: LanceVectorStore) -> None:
    errors: list[BaseException] = []

    def guard(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as error:  # surfaced below
                errors.append(error)

        return run

    def write(worker: int) -> Callable[[], None]:
        def work() -> None:
            for n in range(10):
                vector = [random.random() + 0.01 for _ in range(16)]
                small.replace_document(f"w{worker}-{n}", [chunk(f"w{worker}-{n}#0", vector, "busy words")])

        return work

    def read() -> None:
        for _ in range(30):
            small.search([1.0] * 16, 5)
            small.keyword_search("busy", 5)

    threads = [threading.Thread(target=guard(write(w))) for w in range(3)]
    threads += [threading.Thread(target=guard(read)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert small.count() == 30
