"""The reranker: model ids, settings, pure re-scoring and its fusion with the retrieval order."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from outcrop.backends.biencoder_rerank import BiEncoderReranker
from outcrop.rag.rerank import (
    MetadataSelection,
    RerankError,
    rerank,
    rerank_hits,
    reranking_model,
    retrieve_settings,
)
from outcrop.storage.vectors import Hit


class Axis:
    """Embeds a text as a unit vector along the axis named by its first letter (a, b or c)."""

    model_id = "axis"

    def embed(self, texts: Sequence[str], *, normalize: bool = True) -> list[list[float]]:
        return [[1.0 if text[0] == axis else 0.0 for axis in "abc"] for text in texts]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def hit(text: str) -> Hit:
    return Hit(text, text, text, {}, None, 0.5)


def test_model_ids() -> None:
    assert (
        reranking_model("arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0")
        == "amazon.rerank-v1:0"
    )
    assert reranking_model("cohere.rerank-v3-5:0") == "cohere.rerank-v3-5:0"
    with pytest.raises(RerankError, match="not supported"):
        reranking_model("amazon.titan-embed-text-v1")
    with pytest.raises(RerankError):
        retrieve_settings({"type": "OTHER"})
    settings = retrieve_settings(
        {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "numberOfRerankedResults": 3,
                "modelConfiguration": {"modelArn": "amazon.rerank-v1:0"},
            },
        }
    )
    assert settings is not None and settings.number_of_results == 3


def test_rerank_scores_and_fuses() -> None:
    assert rerank(BiEncoderReranker("axis", Axis()), "b?", ["a1", "b1", "c1"])[0] == (1, 1.0)  # type: ignore[arg-type]
    hits = [hit("a1"), hit("c1"), hit("b1")]
    fused = rerank_hits(BiEncoderReranker("axis", Axis()), "b?", hits, 2)  # type: ignore[arg-type]
    # b1 is the reranker's first but the retrieval's last; a1 is first by retrieval: fusion keeps a1 ahead
    # of c1 and brings b1 up
    assert [h.text for h in fused] == ["a1", "b1"]
    assert fused[0].score <= 1.0 and fused[0].score >= fused[1].score


def test_metadata_selection_chooses_the_fields_the_reranker_reads() -> None:
    def settings(metadata_configuration: dict[str, object]) -> object:
        found = retrieve_settings(
            {
                "type": "BEDROCK_RERANKING_MODEL",
                "bedrockRerankingConfiguration": {
                    "modelConfiguration": {"modelArn": "amazon.rerank-v1:0"},
                    "metadataConfiguration": metadata_configuration,
                },
            }
        )
        assert found is not None
        return found.metadata

    metadata = {"topic": "geology", "year": 2021.0, "tags": ["science", "earth"]}
    every = settings({"selectionMode": "ALL"})
    assert isinstance(every, MetadataSelection)
    assert every.text(metadata) == "tags: science, earth\ntopic: geology\nyear: 2021.0"
    only = settings(
        {
            "selectionMode": "SELECTIVE",
            "selectiveModeConfiguration": {"fieldsToInclude": [{"fieldName": "topic"}]},
        }
    )
    assert isinstance(only, MetadataSelection) and only.text(metadata) == "topic: geology"
    without = settings(
        {
            "selectionMode": "SELECTIVE",
            "selectiveModeConfiguration": {"fieldsToExclude": [{"fieldName": "tags"}]},
        }
    )
    assert isinstance(without, MetadataSelection) and without.text(metadata) == "topic: geology\nyear: 2021.0"
    with pytest.raises(RerankError, match="SELECTIVE"):
        settings({"selectionMode": "SELECTIVE"})


def test_reranker_reads_the_selected_metadata() -> None:
    class Seen(Axis):
        def __init__(self) -> None:
            self.texts: list[str] = []

        def embed(self, texts: Sequence[str], *, normalize: bool = True) -> list[list[float]]:
            self.texts.extend(texts)
            return super().embed(texts, normalize=normalize)

    seen = Seen()
    tagged = Hit("a1", "a1", "a1", {"topic": "geology", "year": 2021.0}, None, 0.5)
    rerank_hits(
        BiEncoderReranker("seen", seen), "b?", [tagged], None, MetadataSelection(include=frozenset({"topic"}))
    )  # type: ignore[arg-type]
    assert seen.texts == ["b?", "a1\ntopic: geology"]
