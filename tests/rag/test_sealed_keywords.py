"""Keyword search over sealed chunks (rag/sealed.py, rag/sealed_terms.py) on the LanceDB store: a sealed
chunk is found by its words and their stems, ranked by BM25 beside plain chunks, under its own data source's
key only, and no word of it is on disk in the clear."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from outcrop.rag.ingest import DATA_SOURCE_ID
from outcrop.rag.sealed import SealedVectors
from outcrop.rag.sealed_terms import term_key, terms, words
from outcrop.storage.vectors import StoredChunk

pytest.importorskip("lancedb")

from outcrop.storage.vectors.lance import LanceVectorStore

TEXTS = {
    "s1": ("sealed", "The lighthouse keepers logged quokka-nebula sightings at dawn."),
    "s2": ("sealed", "Tide tables were copied into the harbour ledger."),
    "s3": ("other", "Another keeper noted a quokka-nebula near the pier."),
    "p1": ("plain", "The plain harbour notes mention a lighthouse and gulls."),
}


def _store(tmp_path: Path) -> tuple[SealedVectors, dict[str, bytes]]:
    keys = {"sealed": os.urandom(32), "other": os.urandom(32)}
    inner = LanceVectorStore(tmp_path / "lance", "kb", 4)
    store = SealedVectors(inner, keys.get, lambda: ["sealed", "other"])
    store.upsert(
        [
            StoredChunk(cid, f"doc-{cid}", [1.0, 0.0, 0.0, float(i)], text, {DATA_SOURCE_ID: ds})
            for i, (cid, (ds, text)) in enumerate(TEXTS.items())
        ]
    )
    return store, keys


def test_words_follow_the_index_normalisation() -> None:
    assert words("The Lighthouses were RUNNING, naïvely!") == ["lighthous", "run", "naiv"]
    key = os.urandom(32)
    made = terms(term_key(key), "lighthouse lighthouses")
    assert len(made) == 2 and made[0] == made[1] and made[0].startswith("t") and len(made[0]) == 21
    assert terms(term_key(os.urandom(32)), "lighthouse") != made[:1]


def test_keyword_search_finds_sealed_chunks_by_word_and_stem(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    found = store.keyword_search("quokka-nebula", 10)
    assert sorted(hit.chunk_id for hit in found) == ["s1", "s3"]  # both keyed data sources, each its key
    assert {hit.text for hit in found} == {TEXTS["s1"][1], TEXTS["s3"][1]}  # opened for the results
    assert [hit.chunk_id for hit in store.keyword_search("lighthouses", 10)] in (["s1", "p1"], ["p1", "s1"])
    assert [hit.chunk_id for hit in store.keyword_search("ledger", 10)] == ["s2"]
    assert store.keyword_search("zebra", 10) == []
    fused = store.hybrid_search([0.0, 1.0, 0.0, 0.0], "ledger tide", 2)
    assert fused[0].chunk_id == "s2" and fused[0].text == TEXTS["s2"][1]
    store.close()
    on_disk = [p for p in (tmp_path / "lance").rglob("*") if p.is_file() and b"quokka" in p.read_bytes()]
    assert on_disk == []
    assert any(b"gulls" in p.read_bytes() for p in (tmp_path / "lance").rglob("*") if p.is_file())


def test_without_the_keys_the_terms_match_nothing(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    blind = SealedVectors(store.inner, lambda ds: None, lambda: [])
    assert [hit.chunk_id for hit in blind.keyword_search("ledger lighthouse", 10)] == ["p1"]
    store.close()
