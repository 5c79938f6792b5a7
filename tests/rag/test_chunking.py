from __future__ import annotations

import itertools
import math
import re

import pytest

from outcrop.rag import (
    Chunk,
    ChunkingConfigError,
    Embedder,
    chunk_fixed_size,
    chunk_hierarchical,
    chunk_none,
    chunk_semantic,
    chunk_text,
    whitespace_tokens,
)

SENTENCES = [
    f"Sentence number {n} talks about topic {n % 7} with several extra words to pad it out."
    for n in range(120)
]
TEXT = "\n\n".join(" ".join(SENTENCES[n : n + 4]) for n in range(0, len(SENTENCES), 4))


def assert_well_formed(text: str, chunks: list[Chunk]) -> None:
    """Offsets map back to the text, and no chunk starts or ends inside a word."""
    assert chunks
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert chunk.start == 0 or text[chunk.start - 1].isspace()
        assert chunk.end == len(text) or text[chunk.end].isspace()


def words_covered(text: str, chunks: list[Chunk]) -> bool:
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    return all(any(c.start <= a and b <= c.end for c in chunks) for a, b in spans)


def test_fixed_size_respects_max_tokens_and_overlaps() -> None:
    chunks = chunk_fixed_size(TEXT, whitespace_tokens, max_tokens=50, overlap_percentage=20)
    assert_well_formed(TEXT, chunks)
    assert words_covered(TEXT, chunks)
    assert all(whitespace_tokens(c.text) <= 50 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start < before.end  # each chunk repeats the tail of the previous one
        assert 0 < whitespace_tokens(TEXT[after.start : before.end]) <= 10


def test_fixed_size_prefers_sentence_boundaries() -> None:
    chunks = chunk_fixed_size(TEXT, whitespace_tokens, max_tokens=40, overlap_percentage=10)
    assert all(c.text.endswith(".") for c in chunks)
    assert all(whitespace_tokens(c.text) >= 20 for c in chunks[:-1])  # but never at the cost of tiny chunks


def test_default_configuration_is_fixed_300_with_20_percent_overlap() -> None:
    chunks = chunk_text(TEXT, None, whitespace_tokens)
    assert chunks == chunk_fixed_size(TEXT, whitespace_tokens, 300, 20)
    assert max(whitespace_tokens(c.text) for c in chunks) <= 300
    assert len(chunks) > 5


def test_chunking_is_deterministic() -> None:
    config = {
        "chunkingStrategy": "HIERARCHICAL",
        "hierarchicalChunkingConfiguration": {
            "levelConfigurations": [{"maxTokens": 120}, {"maxTokens": 30}],
            "overlapTokens": 5,
        },
    }
    assert chunk_text(TEXT, config, whitespace_tokens) == chunk_text(TEXT, config, whitespace_tokens)


def test_counters_with_special_tokens_and_non_additive_counts() -> None:
    def with_specials(text: str) -> int:  # like a BERT tokenizer adding [CLS] and [SEP]
        return len(text.split()) + 2

    chunks = chunk_fixed_size(TEXT, with_specials, max_tokens=50, overlap_percentage=20)
    assert chunks == chunk_fixed_size(TEXT, whitespace_tokens, max_tokens=50, overlap_percentage=20)

    def per_four_chars(text: str) -> int:  # counts the joined text, not word by word
        return math.ceil(len(text) / 4)

    chunks = chunk_fixed_size(TEXT, per_four_chars, max_tokens=64, overlap_percentage=25)
    assert_well_formed(TEXT, chunks)
    assert all(per_four_chars(c.text) <= 64 for c in chunks)


def test_a_word_longer_than_a_chunk_is_the_only_thing_cut() -> None:
    blob = "x" * 500
    text = f"Start here. {blob} End there."
    chunks = chunk_fixed_size(text, lambda t: math.ceil(len(t) / 4), max_tokens=40, overlap_percentage=10)
    assert "".join(c.text for c in chunks if c.text.startswith("x") or c.text.endswith("x")).count("x") >= 500
    assert all(math.ceil(len(c.text) / 4) <= 40 for c in chunks)
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_hierarchical_children_sit_inside_their_parents() -> None:
    chunks = chunk_hierarchical(
        TEXT, whitespace_tokens, parent_max_tokens=150, child_max_tokens=40, overlap_tokens=8
    )
    assert_well_formed(TEXT, chunks)
    assert words_covered(TEXT, chunks)
    parents = {}
    for chunk in chunks:
        parent = chunk.parent
        assert parent is not None and chunk.parent_id == parent.id and chunk.parent_text == parent.text
        assert parent.start <= chunk.start and chunk.end <= parent.end
        assert TEXT[parent.start : parent.end] == parent.text
        assert whitespace_tokens(chunk.text) <= 40 and whitespace_tokens(parent.text) <= 150
        parents[parent.id] = parent
    ordered = sorted(parents.values(), key=lambda p: p.start)
    assert len(ordered) > 3
    assert all(a.end < b.start for a, b in itertools.pairwise(ordered))  # parents tile without overlap
    siblings = [c for c in chunks if c.parent_id == ordered[0].id]
    assert len(siblings) > 1
    assert all(b.start < a.end for a, b in itertools.pairwise(siblings))  # children overlap


TOPICS = {
    "cat": "Cats purr when content. A cat sleeps most of the day. Every cat grooms its fur.",
    "stock": "The stock market fell today. Each stock lost value. Investors sold the stock quickly.",
    "rain": "Heavy rain is expected. The rain will flood roads. Rain gauges filled overnight.",
}


def topic_embedder(calls: list[list[str]]) -> Embedder:
    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return [[float(t.lower().count(word)) for word in TOPICS] for t in texts]

    return embed


@pytest.mark.parametrize("buffer_size", [0, 1])
def test_semantic_breaks_fall_between_topics(buffer_size: int) -> None:
    text = " ".join(TOPICS.values())
    calls: list[list[str]] = []
    chunks = chunk_semantic(
        text,
        whitespace_tokens,
        topic_embedder(calls),
        max_tokens=300,
        buffer_size=buffer_size,
        breakpoint_percentile_threshold=80,
    )
    assert [c.text for c in chunks] == list(TOPICS.values())
    assert_well_formed(text, chunks)
    assert len(calls) == 1 and len(calls[0]) == 9  # one group per sentence, embedded in one batch


def test_semantic_caps_a_long_segment_at_max_tokens() -> None:
    text = " ".join([TOPICS["cat"]] * 6 + [TOPICS["rain"]] * 6)
    chunks = chunk_semantic(text, whitespace_tokens, topic_embedder([]), 20, 0, 95)
    assert_well_formed(text, chunks)
    assert all(whitespace_tokens(c.text) <= 20 for c in chunks)
    assert not any("cat" in c.text.lower() and "rain" in c.text.lower() for c in chunks)


def test_semantic_rejects_an_embedder_that_loses_inputs() -> None:
    with pytest.raises(ValueError, match="vectors"):
        chunk_semantic(" ".join(TOPICS.values()), whitespace_tokens, lambda texts: [[1.0]], 50, 0, 90)


def test_none_is_one_chunk() -> None:
    text = "\n  " + TEXT + "\n\n"
    [chunk] = chunk_none(text)
    assert chunk.text == TEXT and text[chunk.start : chunk.end] == TEXT
    assert chunk_text(text, {"chunkingStrategy": "NONE"}, whitespace_tokens) == [chunk]


def test_empty_text_gives_no_chunks() -> None:
    embed = topic_embedder([])
    assert chunk_fixed_size("  \n", whitespace_tokens) == []
    assert chunk_hierarchical("", whitespace_tokens) == []
    assert chunk_semantic("", whitespace_tokens, embed) == []
    assert chunk_none("   ") == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"chunkingStrategy": "FIXED_SIZE"}, "fixedSizeChunkingConfiguration"),
        (
            {
                "chunkingStrategy": "FIXED_SIZE",
                "fixedSizeChunkingConfiguration": {"maxTokens": 100, "overlapPercentage": 0},
            },
            "overlapPercentage",
        ),
        (
            {
                "chunkingStrategy": "FIXED_SIZE",
                "fixedSizeChunkingConfiguration": {"maxTokens": "100", "overlapPercentage": 5},
            },
            "integer",
        ),
        (
            {
                "chunkingStrategy": "HIERARCHICAL",
                "hierarchicalChunkingConfiguration": {
                    "levelConfigurations": [{"maxTokens": 100}],
                    "overlapTokens": 5,
                },
            },
            "two levels",
        ),
        (
            {
                "chunkingStrategy": "HIERARCHICAL",
                "hierarchicalChunkingConfiguration": {
                    "levelConfigurations": [{"maxTokens": 100}, {"maxTokens": 200}],
                    "overlapTokens": 5,
                },
            },
            "levelConfigurations",
        ),
        (
            {
                "chunkingStrategy": "SEMANTIC",
                "semanticChunkingConfiguration": {
                    "maxTokens": 100,
                    "bufferSize": 2,
                    "breakpointPercentileThreshold": 90,
                },
            },
            "bufferSize",
        ),
        ({"chunkingStrategy": "SENTENCE"}, "not one of"),
    ],
)
def test_invalid_configurations_say_what_is_wrong(config: dict[str, object], message: str) -> None:
    with pytest.raises(ChunkingConfigError, match=message):
        chunk_text(TEXT, config, whitespace_tokens, embed=lambda texts: [[1.0] for _ in texts])


def test_semantic_needs_an_embedder() -> None:
    config = {
        "chunkingStrategy": "SEMANTIC",
        "semanticChunkingConfiguration": {
            "maxTokens": 100,
            "bufferSize": 0,
            "breakpointPercentileThreshold": 90,
        },
    }
    with pytest.raises(ChunkingConfigError, match="embedding model"):
        chunk_text(TEXT, config, whitespace_tokens)
