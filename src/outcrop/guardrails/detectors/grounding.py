"""Contextual grounding and relevance: the grounding detector RetrieveAndGenerate's answer check uses
(`backends/grounding.py`, kind "grounding"), so a guardrail and a faithful RAG answer judge alike.

GROUNDING scores the guarded text against the `grounding_source` blocks: each sentence against its best
source, averaged by the sentence's content words, and no higher than any sentence that states a number or
name the sources lack (one invented fact makes an answer ungrounded, as the detector's key-fact cap says).
RELEVANCE scores the text against the `query` block.
"""

from __future__ import annotations

from collections.abc import Sequence

from outcrop.backends.base import Embedder
from outcrop.backends.grounding import GroundingDetector, content, sentences


def grounding_score(
    detector: GroundingDetector, text: str, sources: Sequence[str], query: str, embedder: Embedder | None
) -> float:
    """The text's grounding in the sources, in [0, 1]."""
    pieces = sentences(text) or [text]
    scores = detector.grounding(pieces, list(sources), query, embedder)
    total = weight = 0.0
    capped = 1.0
    for piece, per_source in zip(pieces, scores, strict=True):
        best = max(per_source, key=lambda found: found.score)
        words = len(content(piece))
        total += best.score * words
        weight += words
        if best.missing:
            capped = min(capped, best.score)
    mean = total / weight if weight else max(max(s.score for s in row) for row in scores)
    return round(max(0.0, min(1.0, mean, capped)), 4)


def relevance_score(detector: GroundingDetector, text: str, query: str, embedder: Embedder | None) -> float:
    """How well the text addresses the query, in [0, 1]."""
    return round(max(0.0, min(1.0, detector.relevance(query, text, embedder))), 4)
