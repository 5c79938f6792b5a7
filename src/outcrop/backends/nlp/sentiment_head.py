"""A logistic-regression head over sentence vectors and VADER's reading: the four sentiment classes.

VADER and the clause rule (sentiment_rule.py) know words, not meaning: "it stopped charging after a week"
has no negative word, and a list of facts with one warm word reads as praise. The head adds an
all-MiniLM-L6-v2 sentence vector to VADER's shares, compound and the rule's label and scores, and a
multinomial logistic regression over them answers the class and its probabilities.

It is fitted at first use on the labelled sentences of sentiment_seed.py (about 390, never the bench's),
deterministically (lbfgs, no sampling) in a second or two, and the fit is kept in the model cache under a
key of everything it depends on, so later servers load it. Its settings were chosen by 5-fold
cross-validation on the seed set alone (C = 4; the vector alone 0.75 macro-F1, with VADER 0.77, with the
rule too 0.84); measured on bench/bench_service_quality.py's set it never saw: 0.939 dev, 0.911 held-out
(the rule alone: 0.921, 0.831).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from outcrop.backends.packaged import import_optional

LABELS = ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED")
SCORE_NAMES = ("Positive", "Negative", "Neutral", "Mixed")  # the rule's score names, in LABELS' order
FEATURES_VERSION = 1  # bump when `describe` changes what it returns

Describe = Callable[[str], list[float]]  # VADER's reading of a text as numbers (see VaderSentiment)
Encoder = Callable[[Sequence[str]], Sequence[Sequence[float]]]


def fit_key(c: float, encoder_sha256: str | None, reader: str) -> str:
    """What a fit depends on: the seed set, C, the encoder, VADER's lexicon and scikit-learn's version."""
    from outcrop.backends.nlp import sentiment_seed as seed

    sklearn = import_optional("sklearn", "pip install scikit-learn")
    data = {
        "examples": seed.EXAMPLES,
        "c": c,
        "encoder": encoder_sha256 or "",
        "reader": reader,
        "features": FEATURES_VERSION,
        "sklearn": sklearn.__version__,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class SentimentHead:
    """The fitted head; the encoder loads and the fit runs (or is read from the cache) on first use."""

    def __init__(
        self, describe: Describe, encoder: Callable[[], Encoder], *, cache: Path | None, c: float = 4.0
    ) -> None:
        self._describe = describe
        self._encoder_factory = encoder
        self._encoder: Encoder | None = None
        self._cache = cache
        self._c = c
        self._lock = threading.Lock()
        self._weights: np.ndarray[Any, np.dtype[np.float64]] | None = None  # (features, classes)
        self._intercepts: np.ndarray[Any, np.dtype[np.float64]] | None = None

    def _ready(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = self._encoder_factory()
            if self._weights is None:
                if self._cache is not None and self._cache.is_file():
                    with np.load(self._cache) as stored:
                        self._weights, self._intercepts = stored["weights"], stored["intercepts"]
                else:
                    self._weights, self._intercepts = self._fit(self._encoder)
                    self._keep()
            return self._encoder

    def _keep(self) -> None:
        if self._cache is None or self._weights is None or self._intercepts is None:
            return
        self._cache.parent.mkdir(parents=True, exist_ok=True)
        partial = self._cache.with_name(f"{self._cache.stem}.{os.getpid()}.partial.npz")
        np.savez(partial, weights=self._weights, intercepts=self._intercepts)
        partial.replace(self._cache)

    def _fit(
        self, encoder: Encoder
    ) -> tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]]]:
        from outcrop.backends.nlp import sentiment_seed as seed

        linear_model = import_optional("sklearn.linear_model", "pip install scikit-learn")
        texts = [text for label in LABELS for text in seed.EXAMPLES[label]]
        target = [LABELS.index(label) for label in LABELS for _ in seed.EXAMPLES[label]]
        model = linear_model.LogisticRegression(C=self._c, max_iter=5000)
        model.fit(self._features(texts, encoder), target)
        order = [list(model.classes_).index(index) for index in range(len(LABELS))]
        weights = np.asarray(model.coef_, dtype=np.float64)[order].T
        return weights, np.asarray(model.intercept_, dtype=np.float64)[order]

    def _features(self, texts: Sequence[str], encoder: Encoder) -> np.ndarray[Any, np.dtype[np.float64]]:
        vectors = np.asarray(encoder(list(texts)), dtype=np.float64)
        reading = np.asarray([self._describe(text) for text in texts], dtype=np.float64)
        return np.hstack([vectors, reading])

    def probabilities(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Each text's probability per class (LABELS), summing to 1."""
        if not texts:
            return []
        encoder = self._ready()
        assert self._weights is not None and self._intercepts is not None
        logits = self._features(texts, encoder) @ self._weights + self._intercepts
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        shares = weights / weights.sum(axis=1, keepdims=True)
        return [dict(zip(LABELS, map(float, row), strict=True)) for row in shares]
