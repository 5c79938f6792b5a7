"""Kind "content-safety": the probability that a text is sexual, violent, hateful, insulting, about
misconduct, or an attack on a model's instructions (`CATEGORIES`).

No packaged classifier of these categories ships its weights inside a registry package (the prompt-injection
packages found either download an encoder at run time, need torch, or hold no weights; FINDINGS.md), so
runtime "content-seed" fits one logistic regression per category on the labelled seed set in
`content_safety_seed.py`, over two packaged models: all-MiniLM-L6-v2 sentence embeddings (meaning) and
alt-profanity-check's offensive-language probability (wording).

The fit is kept in the model cache (`content-safety/<name>-<key>.npz`, the key a hash of the seed set, the
regularisation, the encoder's digest and scikit-learn's version), so a restart loads it instead of refitting
(10-16 s on a loaded 2-core machine). Scoring is two matrix products: the regressions' and the offensive
model's (a calibrated linear SVM, evaluated from its coefficients: exactly scikit-learn's answer, 100x
faster than its predict_proba).

The vectors can come from outside: `embedding_model` names the catalog embedding model whose vectors
`scores_from` reads, so the guardrail engine embeds a text once for the content filters and the denied
topics. `scores` alone embeds with the runtime's own copy of the encoder, loaded on first such use.

Catalog keys: `model_package` + `model_file` (+ `sha256`) and `tokenizer_package` + `tokenizer_file` for the
encoder, as runtime "onnx-embed" takes them; `embedding_model` (default "all-minilm-l6-v2", the catalog's
entry of the same encoder); `svm_package`, `svm_file` (+ `svm_sha256`), `vectorizer_file`
(+ `vectorizer_sha256`) for the offensive-language model; `c` the regularisation (default 4.0).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from outcrop.backends.packaged import ModelFiles, import_optional

CATEGORIES = ("sexual", "violence", "hate", "insults", "misconduct", "prompt_attack")
Embed = Callable[[Sequence[str]], list[list[float]]]
Matrix = np.ndarray[Any, Any]


@runtime_checkable
class ContentClassifier(Protocol):
    """One {category: probability in [0, 1]} per text, for every name of `CATEGORIES`."""

    model_id: str
    languages: tuple[str, ...]

    def scores(self, texts: Sequence[str]) -> list[dict[str, float]]: ...


@runtime_checkable
class VectorContentClassifier(ContentClassifier, Protocol):
    """A classifier that reads sentence vectors of the catalog embedding model `embedding_model`."""

    embedding_model: str

    def scores_from(
        self, texts: Sequence[str], vectors: Sequence[Sequence[float]], embed: Embed
    ) -> list[dict[str, float]]:
        """Scores of `texts` given their vectors; `embed` (the same model) fits the classifier if the
        model cache holds no fit yet."""
        ...


def _sigmoid(values: Matrix) -> Matrix:
    result: Matrix = 1.0 / (1.0 + np.exp(-values))
    return result


class LinearOffensive:
    """alt-profanity-check's calibrated linear SVMs as matrices: TF-IDF, the SVMs' decision values, each
    one's sigmoid calibration, their mean (what CalibratedClassifierCV.predict_proba computes). The TF-IDF
    row of a short text is built from the vectorizer's own analyzer, vocabulary and idf (sklearn's
    transform costs milliseconds of input checks per call)."""

    def __init__(self, model: Any, vectorizer: Any) -> None:
        members = model.calibrated_classifiers_
        if getattr(model, "method", "sigmoid") != "sigmoid" or list(model.classes_) != [0, 1]:
            raise ValueError("not a binary sigmoid-calibrated model")
        self._vectorizer = vectorizer
        self._weights = np.stack([m.estimator.coef_[0] for m in members], axis=1)
        self._intercepts = np.array([m.estimator.intercept_[0] for m in members])
        self._a = np.array([m.calibrators[0].a_ for m in members])
        self._b = np.array([m.calibrators[0].b_ for m in members])
        plain = (
            getattr(vectorizer, "norm", None) == "l2"
            and getattr(vectorizer, "use_idf", False)
            and not getattr(vectorizer, "sublinear_tf", True)
            and not getattr(vectorizer, "binary", True)
        )
        self._analyzer = vectorizer.build_analyzer() if plain else None
        self._vocabulary: dict[str, int] = dict(vectorizer.vocabulary_) if plain else {}
        self._idf: Matrix = np.asarray(vectorizer.idf_) if plain else np.zeros(0)

    def _decisions(self, texts: Sequence[str]) -> Matrix:
        if self._analyzer is None:
            decision: Matrix = self._vectorizer.transform(list(texts)) @ self._weights
            return decision
        rows = np.zeros((len(texts), self._weights.shape[1]))
        for row, text in enumerate(texts):
            counts: dict[int, int] = {}
            for token in self._analyzer(text):
                column = self._vocabulary.get(token)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            if counts:
                columns = np.fromiter(counts, dtype=np.int64)
                values = np.fromiter(counts.values(), dtype=np.float64) * self._idf[columns]
                rows[row] = (values / np.linalg.norm(values)) @ self._weights[columns]
        return rows

    def scores(self, texts: Sequence[str]) -> Matrix:
        decision = self._decisions(texts) + self._intercepts
        result: Matrix = _sigmoid(-(self._a * decision + self._b)).mean(axis=1)
        return result


def seed_key(c: float, encoder_sha256: str | None) -> str:
    """What a fit depends on: the seed set, the regularisation, the encoder and scikit-learn's version."""
    from outcrop.backends.nlp import content_safety_seed as seed

    sklearn = import_optional("sklearn", "pip install scikit-learn")
    data = {
        "categories": seed.CATEGORIES,
        "benign": seed.BENIGN_TEXTS,
        "related": {name: sorted(values) for name, values in seed.RELATED.items()},
        "c": c,
        "encoder": encoder_sha256 or "",
        "sklearn": sklearn.__version__,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class SeedClassifier:
    """Per-category logistic regressions over [sentence embedding, offensive-language probability]."""

    languages: tuple[str, ...] = ("en",)

    def __init__(
        self,
        model_id: str,
        offensive: Callable[[Sequence[str]], Matrix],
        *,
        embedding_model: str,
        encoder: Callable[[], Any],
        cache: Path | None,
        c: float = 4.0,
    ) -> None:
        self.model_id = model_id
        self.embedding_model = embedding_model
        self._offensive = offensive
        self._encoder_factory = encoder
        self._encoder: Any = None
        self._cache = cache
        self._c = c
        self._lock = threading.Lock()
        self._weights: Matrix | None = None  # (features, categories)
        self._intercepts: Matrix | None = None
        if cache is not None and cache.is_file():
            with np.load(cache) as stored:
                self._weights, self._intercepts = stored["weights"], stored["intercepts"]

    @property
    def fitted(self) -> bool:
        return self._weights is not None

    def fit(self, embed: Embed) -> None:
        """Fit on the seed set (once; a no-op when fitted or loaded from the cache) and keep the fit."""
        if self._weights is not None:
            return
        with self._lock:
            if self._weights is not None:
                return
            weights, intercepts = self._fit(embed)
            if self._cache is not None:
                self._cache.parent.mkdir(parents=True, exist_ok=True)
                partial = self._cache.with_name(f"{self._cache.stem}.{os.getpid()}.partial.npz")
                np.savez(partial, weights=weights, intercepts=intercepts)
                partial.replace(self._cache)
            self._weights, self._intercepts = weights, intercepts

    def _fit(self, embed: Embed) -> tuple[Matrix, Matrix]:
        from outcrop.backends.nlp import content_safety_seed as seed

        linear_model = import_optional("sklearn.linear_model", "pip install scikit-learn")
        texts = [text for examples in seed.CATEGORIES.values() for text in examples] + seed.BENIGN_TEXTS
        labels = [name for name, examples in seed.CATEGORIES.items() for _ in examples]
        labels += [""] * len(seed.BENIGN_TEXTS)
        features = self._features(texts, embed(texts))
        weights, intercepts = [], []
        for category in CATEGORIES:
            related = seed.RELATED.get(category, frozenset())
            keep = [i for i, label in enumerate(labels) if label not in related]
            target = [int(labels[i] == category) for i in keep]
            model = linear_model.LogisticRegression(C=self._c, class_weight="balanced", max_iter=2000)
            model.fit(features[keep], target)
            weights.append(model.coef_[0])
            intercepts.append(model.intercept_[0])
        return np.stack(weights, axis=1), np.array(intercepts)

    def _features(self, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> Matrix:
        offensive = np.asarray(self._offensive(texts), dtype=np.float64)[:, None]
        return np.hstack([np.asarray(vectors, dtype=np.float64), offensive])

    def scores_from(
        self, texts: Sequence[str], vectors: Sequence[Sequence[float]], embed: Embed
    ) -> list[dict[str, float]]:
        if not texts:
            return []
        self.fit(embed)
        assert self._weights is not None and self._intercepts is not None
        probabilities = _sigmoid(self._features(texts, vectors) @ self._weights + self._intercepts)
        return [dict(zip(CATEGORIES, map(float, row), strict=True)) for row in probabilities]

    def scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        with self._lock:
            if self._encoder is None:
                self._encoder = self._encoder_factory()
        embed: Embed = self._encoder.embed
        return self.scores_from(texts, embed(list(texts)), embed)


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> SeedClassifier:
    """The registry's loader: the offensive-language model (digests checked) and the kept fit, if any; the
    encoder loads only if `scores` is called without vectors."""
    from outcrop.backends import onnx_embed
    from outcrop.backends.nlp import toxicity

    checked = toxicity.load(
        f"{name}/offensive",
        {
            "model_package": config.get("svm_package", "alt-profanity-check"),
            "model_file": config.get("svm_file", "profanity_check/data/model.joblib"),
            "sha256": config.get("svm_sha256"),
            "vectorizer_file": config.get("vectorizer_file", "profanity_check/data/vectorizer.joblib"),
            "vectorizer_sha256": config.get("vectorizer_sha256"),
        },
        files,
    )

    def offensive(texts: Sequence[str]) -> Matrix:
        return np.asarray(checked.scores(texts), dtype=np.float64)

    module = import_optional(
        "profanity_check.profanity_check", "pip install --no-deps alt-profanity-check==1.9.1"
    )
    scorer: Callable[[Sequence[str]], Matrix] = offensive
    with contextlib.suppress(AttributeError, IndexError, ValueError):  # else the package's own scoring
        scorer = LinearOffensive(module.model, module.vectorizer).scores
    c = float(config.get("c", 4.0))
    key = seed_key(c, config.get("sha256"))
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return SeedClassifier(
        name,
        scorer,
        embedding_model=str(config.get("embedding_model", "all-minilm-l6-v2")),
        encoder=lambda: onnx_embed.load(f"{name}/encoder", config, files),
        cache=files.cache_dir / "content-safety" / f"{safe}-{key}.npz",
        c=c,
    )


# ---- the fake: word lists, so a test can tell what it answers ------------------------------------------
def _words(words: str) -> frozenset[str]:
    return frozenset(words.split())


_FAKE_WORDS: dict[str, frozenset[str]] = {
    "sexual": _words("sex sexual nude naked porn erotic orgasm horny"),
    "violence": _words("stab kill shoot murder torture strangle massacre behead"),
    "hate": _words("vermin subhuman inferior savages"),
    "insults": _words("idiot moron loser stupid imbecile pathetic"),
    "misconduct": _words("meth launder counterfeit shoplift bribe phishing"),
    "prompt_attack": _words("ignore disregard jailbreak dan override"),
}
_FAKE_PHRASES = {"prompt_attack": ("previous instructions", "system prompt", "no restrictions")}
_WORD = re.compile(r"[a-z]+")


class FakeContentClassifier:
    """0.95 for a category when the text has one of its words (or phrases), 0.02 otherwise."""

    languages: tuple[str, ...] = ("en",)

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        answers = []
        for text in texts:
            lowered = text.lower()
            words = set(_WORD.findall(lowered))
            answers.append(
                {
                    name: 0.95
                    if words & _FAKE_WORDS[name] or any(p in lowered for p in _FAKE_PHRASES.get(name, ()))
                    else 0.02
                    for name in CATEGORIES
                }
            )
        return answers


def fake_classifier(name: str, config: Mapping[str, Any]) -> FakeContentClassifier:
    return FakeContentClassifier(name)
