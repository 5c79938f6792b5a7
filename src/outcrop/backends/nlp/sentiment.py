"""Sentence sentiment with VADER, a lexicon and rule model for English (no weights to load)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outcrop.backends.nlp._lazy import Lazy
from outcrop.backends.packaged import import_optional


@dataclass(frozen=True)
class Polarity:
    """VADER's answer: shares of positive/neutral/negative wording (sum 1) and a compound in [-1, 1]."""

    positive: float
    neutral: float
    negative: float
    compound: float


def _build() -> Any:
    module = import_optional("vaderSentiment.vaderSentiment", "pip install vaderSentiment==3.3.2")
    return module.SentimentIntensityAnalyzer()


class VaderSentiment:
    languages = ("en",)

    def __init__(self) -> None:
        self._analyzer: Lazy[Any] = Lazy(_build)

    def polarity(self, text: str) -> Polarity:
        scores = self._analyzer.get().polarity_scores(text)
        return Polarity(
            float(scores["pos"]), float(scores["neu"]), float(scores["neg"]), float(scores["compound"])
        )
