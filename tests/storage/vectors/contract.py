"""The VectorStore contract: every implementation passes these tests by providing the `open_store` fixture,
a factory `open_store(name, dimension=4)` that opens (or reopens) the named store on the same data."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from outcrop.storage.vectors import (
    Hit,
    MetadataValue,
    StoredChunk,
    VectorStore,
    matches,
    parse_filter,
)

OpenStore = Callable[..., VectorStore]

# Metadata chosen to tell the operators' edge cases apart: a year that is a string, a missing key, quotes,
# percent and underscore signs (LIKE wildcards), a list member that contains another as a substring.
FILTER_METADATA: dict[str, dict[str, MetadataValue]] = {
    "c1": {
        "year": 2024,
        "genre": "drama",
        "tags": ["red", "blue"],
        "draft": False,
        "title": "Alpha centauri",
    },
    "c2": {"year": 2020, "genre": "comedy", "tags": ["green"], "draft": True, "title": "beta"},
    "c3": {"year": 2024.5, "genre": "drama", "tags": [], "title": "Gamma ray"},
    "c4": {"year": "2024", "genre": "horror"},
    "c5": {},
    "c6": {
        "year": 1999,
        "genre": "it's",
        "tags": ["dark blue", "o'neil"],
        "draft": False,
        "title": "100% pure_",
    },
}
ALL = set(FILTER_METADATA)

FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"equals": {"key": "year", "value": 2024}}, {"c1"}),
    ({"equals": {"key": "year", "value": "2024"}}, {"c4"}),
    ({"equals": {"key": "draft", "value": False}}, {"c1", "c6"}),
    ({"equals": {"key": "genre", "value": "it's"}}, {"c6"}),
    ({"equals": {"key": "nothing", "value": "x"}}, set()),
    ({"notEquals": {"key": "genre", "value": "drama"}}, {"c2", "c4", "c5", "c6"}),
    ({"notEquals": {"key": "nothing", "value": 1}}, ALL),
    ({"greaterThan": {"key": "year", "value": 2020}}, {"c1", "c3"}),
    ({"greaterThanOrEquals": {"key": "year", "value": 2020}}, {"c1", "c2", "c3"}),
    ({"lessThan": {"key": "year", "value": 2020}}, {"c6"}),
    ({"lessThanOrEquals": {"key": "year", "value": 2020}}, {"c2", "c6"}),
    ({"in": {"key": "genre", "value": ["drama", "horror"]}}, {"c1", "c3", "c4"}),
    ({"in": {"key": "year", "value": [2020, "2024"]}}, {"c2", "c4"}),
    ({"notIn": {"key": "genre", "value": ["drama", "horror"]}}, {"c2", "c5", "c6"}),
    ({"startsWith": {"key": "title", "value": "Gamma"}}, {"c3"}),
    ({"startsWith": {"key": "title", "value": "100%"}}, {"c6"}),
    ({"startsWith": {"key": "title", "value": "gamma"}}, set()),
    ({"listContains": {"key": "tags", "value": "blue"}}, {"c1"}),
    ({"listContains": {"key": "title", "value": "beta"}}, set()),
    ({"stringContains": {"key": "tags", "value": "blue"}}, {"c1", "c6"}),
    ({"stringContains": {"key": "title", "value": "ray"}}, {"c3"}),
    ({"stringContains": {"key": "title", "value": "% pure_"}}, {"c6"}),
    ({"stringContains": {"key": "tags", "value": "'"}}, {"c6"}),
    ({"stringContains": {"key": "tags", "value": "dblue"}}, set()),
    (
        {
            "andAll": [
                {"equals": {"key": "genre", "value": "drama"}},
                {"greaterThan": {"key": "year", "value": 2024}},
            ]
        },
        {"c3"},
    ),
    (
        {
            "orAll": [
                {"equals": {"key": "genre", "value": "comedy"}},
                {"listContains": {"key": "tags", "value": "red"}},
            ]
        },
        {"c1", "c2"},
    ),
    (
        {
            "andAll": [
                {
                    "orAll": [
                        {"equals": {"key": "draft", "value": True}},
                        {"equals": {"key": "draft", "value": False}},
                    ]
                },
                {"notEquals": {"key": "year", "value": 1999}},
            ]
        },
        {"c1", "c2"},
    ),
]


def unit(*values: float) -> list[float]:
    return list(values)


def chunk(
    chunk_id: str,
    vector: list[float],
    text: str = "",
    document_id: str | None = None,
    metadata: dict[str, MetadataValue] | None = None,
    parent_text: str | None = None,
) -> StoredChunk:
    return StoredChunk(
        chunk_id=chunk_id,
        document_id=document_id or chunk_id.split("#")[0],
        vector=vector,
        text=text or f"text of {chunk_id}",
        metadata=metadata or {},
        parent_text=parent_text,
    )


def ids(hits: list[Hit]) -> list[str]:
    return [hit.chunk_id for hit in hits]


class VectorStoreContract:
    """Subclass and provide `open_store`; each test gets a fresh, empty store of dimension 4."""

    @pytest.fixture
    def store(self, open_store: OpenStore) -> Iterator[VectorStore]:
        store = open_store("contract")
        yield store
        store.close()

    @pytest.fixture
    def filtered(self, store: VectorStore) -> VectorStore:
        store.upsert(
            [
                chunk(chunk_id, unit(1, 0.1 * i, 0, 0), f"shared words {chunk_id}", metadata=metadata)
                for i, (chunk_id, metadata) in enumerate(FILTER_METADATA.items())
            ]
        )
        return store

    def test_empty_store(self, store: VectorStore) -> None:
        assert store.count() == 0
        assert store.documents() == {}
        assert store.search(unit(1, 0, 0, 0), 5) == []
        assert store.keyword_search("anything", 5) == []
        assert store.hybrid_search(unit(1, 0, 0, 0), "anything", 5) == []

    def test_upsert_and_read_back(self, store: VectorStore) -> None:
        metadata: dict[str, MetadataValue] = {"year": 2024, "ok": True, "tags": ["a", "b"], "title": "T"}
        store.upsert([chunk("d1#0", unit(1, 0, 0, 0), "first", metadata=metadata, parent_text="parent")])
        store.upsert([chunk("d1#1", unit(0, 1, 0, 0)), chunk("d2#0", unit(0, 0, 1, 0))])
        assert store.count() == 3
        assert store.documents() == {"d1": 2, "d2": 1}
        (hit,) = store.search(unit(1, 0, 0, 0), 1)
        assert (hit.chunk_id, hit.document_id, hit.text, hit.parent_text) == ("d1#0", "d1", "first", "parent")
        assert hit.metadata == {"year": 2024.0, "ok": True, "tags": ["a", "b"], "title": "T"}
        assert hit.score == pytest.approx(1.0, abs=1e-5)

    def test_upsert_replaces_same_chunk_id(self, store: VectorStore) -> None:
        store.upsert([chunk("d1#0", unit(1, 0, 0, 0), "old words", metadata={"v": 1})])
        store.upsert([chunk("d1#0", unit(0, 1, 0, 0), "new words", metadata={"v": 2})])
        assert store.count() == 1
        (hit,) = store.search(unit(0, 1, 0, 0), 5)
        assert (hit.text, hit.metadata, hit.score) == ("new words", {"v": 2.0}, pytest.approx(1.0, abs=1e-5))
        assert store.keyword_search("old", 5) == []

    def test_replace_document_swaps_all_chunks(self, store: VectorStore) -> None:
        store.upsert([chunk(f"d1#{i}", unit(1, i, 0, 0), "version one") for i in range(3)])
        store.upsert([chunk("d2#0", unit(0, 0, 1, 0))])
        store.replace_document("d1", [chunk(f"d1#v2-{i}", unit(1, i, 1, 0), "version two") for i in range(2)])
        assert store.documents() == {"d1": 2, "d2": 1}
        assert sorted(ids(store.search(unit(1, 0, 0, 0), 10))) == ["d1#v2-0", "d1#v2-1", "d2#0"]
        assert store.keyword_search("one", 10) == []
        store.replace_document("d1", [])
        assert store.documents() == {"d2": 1}

    def test_replace_documents_in_one_call(self, store: VectorStore) -> None:
        store.upsert([chunk(f"{d}#{i}", unit(1, i, 0, 0)) for d in ("d1", "d2", "d3") for i in range(2)])
        store.replace_documents(
            {
                "d1": [chunk("d1#new", unit(0, 1, 0, 0))],
                "d2": [],
                "d4": [chunk("d4#0", unit(0, 0, 1, 0)), chunk("d4#1", unit(0, 0, 0, 1))],
            }
        )
        assert store.documents() == {"d1": 1, "d3": 2, "d4": 2}
        store.replace_documents({"d1": [], "d3": []})
        assert store.documents() == {"d4": 2}
        store.replace_documents({})
        assert store.count() == 2

    def test_replace_document_refuses_other_documents(self, store: VectorStore) -> None:
        with pytest.raises(ValueError, match="belong to other documents"):
            store.replace_document("d1", [chunk("d2#0", unit(1, 0, 0, 0))])

    def test_replace_is_atomic_for_readers(self, store: VectorStore) -> None:
        versions = [
            [chunk(f"d#{v}-{i}", unit(1, i, v, 0), f"version {v}") for i in range(n)]
            for v, n in ((0, 3), (1, 5))
        ]
        expected = [{c.chunk_id for c in version} for version in versions]
        store.replace_document("d", versions[0])
        seen: list[set[str]] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                seen.append(set(ids(store.search(unit(1, 0, 0, 0), 20))))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for round_ in range(8):
                store.replace_document("d", versions[(round_ + 1) % 2])
        finally:
            done.set()
            reader.join()
        assert seen
        assert all(found in expected for found in seen), [f for f in seen if f not in expected][:3]

    def test_delete_document(self, store: VectorStore) -> None:
        store.upsert([chunk("d1#0", unit(1, 0, 0, 0)), chunk("d1#1", unit(1, 1, 0, 0))])
        store.upsert([chunk("d2#0", unit(0, 1, 0, 0), "kept")])
        assert store.delete_document("d1") == 2
        assert store.delete_document("d1") == 0
        assert store.delete_document("unknown") == 0
        assert store.documents() == {"d2": 1}
        assert ids(store.search(unit(1, 0, 0, 0), 10)) == ["d2#0"]

    def test_semantic_ranking_and_scores(self, store: VectorStore) -> None:
        store.upsert(
            [
                chunk("far", unit(-1, 0, 0, 0)),
                chunk("orthogonal", unit(0, 1, 0, 0)),
                chunk("same", unit(2, 0, 0, 0)),  # cosine ignores length
                chunk("near", unit(1, 1, 0, 0)),
            ]
        )
        hits = store.search(unit(1, 0, 0, 0), 4)
        assert ids(hits) == ["same", "near", "orthogonal", "far"]
        assert [hit.score for hit in hits] == pytest.approx([1.0, 0.8536, 0.5, 0.0], abs=1e-3)
        assert ids(store.search(unit(1, 0, 0, 0), 2)) == ["same", "near"]

    def test_keyword_ranking(self, store: VectorStore) -> None:
        store.upsert(
            [
                chunk("brown", unit(1, 0, 0, 0), "The quick brown fox"),
                chunk("foxes", unit(1, 0, 0, 0), "fox fox fox jumps"),
                chunk("dog", unit(1, 0, 0, 0), "A lazy dog sleeps all day"),
                chunk("none", unit(1, 0, 0, 0), "nothing relevant here"),
            ]
        )
        assert ids(store.keyword_search("fox", 10)) == ["foxes", "brown"]
        assert ids(store.keyword_search("sleeping dogs", 10)) == ["dog"]  # stemmed
        assert ids(store.keyword_search("lazy fox", 10))[0] in {"dog", "foxes"}
        assert set(ids(store.keyword_search("lazy fox", 10))) == {"dog", "foxes", "brown"}  # any word matches
        hits = store.keyword_search("fox", 1)
        assert len(hits) == 1 and 0 < hits[0].score < 1
        assert store.keyword_search("the a of", 10) == []  # stop words only
        assert store.keyword_search("it's: (x) AND y* \"odd'", 10) == []  # no query syntax leaks through

    def test_hybrid_fuses_both_rankings(self, store: VectorStore) -> None:
        store.upsert(
            [
                chunk("A", unit(1, 0, 0, 0), "alpha beta"),  # semantic 1st, no keyword match
                chunk("B", unit(0.9, 0.3, 0, 0), "rocket"),  # 2nd in both
                chunk("C", unit(-1, 0, 0, 0), "rocket engine"),  # keyword 1st, semantic last
                chunk("D", unit(0, 1, 0, 0), "gamma delta"),
            ]
        )
        assert ids(store.search(unit(1, 0, 0, 0), 4)) == ["A", "B", "D", "C"]
        assert ids(store.keyword_search("rocket engine", 4)) == ["C", "B"]
        hits = store.hybrid_search(unit(1, 0, 0, 0), "rocket engine", 4)
        assert ids(hits) == ["B", "C", "A", "D"]
        assert hits[0].score == pytest.approx((2 / 62) / (2 / 61))
        assert all(0 < hit.score <= 1 for hit in hits)
        assert ids(store.hybrid_search(unit(1, 0, 0, 0), "rocket engine", 2)) == ["B", "C"]

    @pytest.mark.parametrize(("raw", "expected"), FILTER_CASES, ids=[str(c[0])[:60] for c in FILTER_CASES])
    def test_filter(self, filtered: VectorStore, raw: dict[str, Any], expected: set[str]) -> None:
        parsed = parse_filter(raw)
        assert {c for c, m in FILTER_METADATA.items() if matches(parsed, m)} == expected  # the reference
        assert set(ids(filtered.search(unit(1, 0, 0, 0), 10, parsed))) == expected
        assert set(ids(filtered.keyword_search("shared words", 10, parsed))) == expected
        assert set(ids(filtered.hybrid_search(unit(1, 0, 0, 0), "shared", 10, parsed))) == expected

    def test_filter_keeps_order_and_k(self, filtered: VectorStore) -> None:
        parsed = parse_filter({"in": {"key": "genre", "value": ["drama", "horror"]}})
        assert ids(filtered.search(unit(1, 0, 0, 0), 2, parsed)) == ["c1", "c3"]

    def test_persists_after_reopening(self, open_store: OpenStore) -> None:
        first = open_store("persisted")
        first.upsert([chunk("d1#0", unit(1, 0, 0, 0), "durable words", metadata={"year": 2024})])
        first.replace_document("d2", [chunk("d2#0", unit(0, 1, 0, 0), "second")])
        first.close()
        again = open_store("persisted")
        try:
            assert again.count() == 2
            assert again.documents() == {"d1": 1, "d2": 1}
            assert ids(again.keyword_search("durable", 5)) == ["d1#0"]
            year = parse_filter({"equals": {"key": "year", "value": 2024}})
            assert ids(again.search(unit(1, 0, 0, 0), 5, year)) == ["d1#0"]
            with pytest.raises(ValueError, match="dimension"):
                open_store("persisted", dimension=5)
        finally:
            again.close()

    def test_stores_are_separate_and_drop(self, open_store: OpenStore) -> None:
        one, two = open_store("one"), open_store("two")
        one.upsert([chunk("d1#0", unit(1, 0, 0, 0))])
        assert two.count() == 0
        one.drop()
        one.close()
        fresh = open_store("one")
        assert fresh.count() == 0
        fresh.close()
        two.close()

    def test_bad_input(self, store: VectorStore, open_store: OpenStore) -> None:
        with pytest.raises(ValueError, match="dimensions"):
            store.upsert([chunk("d1#0", unit(1, 0, 0))])
        with pytest.raises(ValueError, match="non-zero"):
            store.upsert([chunk("d1#0", unit(0, 0, 0, 0))])
        with pytest.raises(ValueError, match="metadata"):
            store.upsert([chunk("d1#0", unit(1, 0, 0, 0), metadata={"bad": [1, 2]})])  # type: ignore[list-item]
        with pytest.raises(ValueError, match="dimensions"):
            store.search(unit(1, 0), 3)
        with pytest.raises(ValueError, match="k must be"):
            store.search(unit(1, 0, 0, 0), 0)
        with pytest.raises(ValueError, match="store name"):
            open_store("no spaces or ; please")
        assert store.count() == 0  # nothing half-written
