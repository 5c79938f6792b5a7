"""Kind "content-safety": the probability that a text is sexual, violent, hateful, insulting, about
misconduct, or an attack on a model's instructions (`CATEGORIES`).

No packaged classifier of these categories ships its weights inside a registry package (the prompt-injection
packages found either download an encoder at run time, need torch, or hold no weights; FINDINGS.md), so
runtime "content-seed" fits one logistic regression per category when it loads, on the labelled seed set in
`content_safety_seed.py`, over two packaged models: all-MiniLM-L6-v2 sentence embeddings (meaning) and
alt-profanity-check's offensive-language probability (wording). Fitting takes about a second.

Catalog keys: `model_package` + `model_file` (+ `sha256`) and `tokenizer_package` + `tokenizer_file` for the
encoder, as runtime "onnx-embed" takes them; `svm_package`, `svm_file` (+ `svm_sha256`), `vectorizer_file`
(+ `vectorizer_sha256`) for the offensive-language model; `c` the regularisation (default 4.0).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from outcrop.backends.packaged import ModelFiles, import_optional

CATEGORIES = ("sexual", "violence", "hate", "insults", "misconduct", "prompt_attack")


@runtime_checkable
class ContentClassifier(Protocol):
    """One {category: probability in [0, 1]} per text, for every name of `CATEGORIES`."""

    model_id: str
    languages: tuple[str, ...]

    def scores(self, texts: Sequence[str]) -> list[dict[str, float]]: ...


class SeedClassifier:
    """Per-category logistic regressions over [sentence embedding, offensive-language probability]."""

    languages: tuple[str, ...] = ("en",)

    def __init__(self, model_id: str, encoder: Any, offensive: Any, *, c: float = 4.0) -> None:
        from outcrop.backends.nlp import content_safety_seed as seed

        linear_model = import_optional("sklearn.linear_model", "pip install scikit-learn")
        self.model_id = model_id
        self._encoder = encoder
        self._offensive = offensive
        self._lock = threading.Lock()
        texts = [text for examples in seed.CATEGORIES.values() for text in examples] + seed.BENIGN_TEXTS
        labels = [name for name, examples in seed.CATEGORIES.items() for _ in examples]
        labels += [""] * len(seed.BENIGN_TEXTS)
        features = self._features(texts)
        self._models: dict[str, Any] = {}
        for category in CATEGORIES:
            related = seed.RELATED.get(category, frozenset())
            keep = [i for i, label in enumerate(labels) if label not in related]
            target = [int(labels[i] == category) for i in keep]
            model = linear_model.LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            model.fit(features[keep], target)
            self._models[category] = model

    def _features(self, texts: Sequence[str]) -> Any:
        np = import_optional("numpy", "pip install numpy")
        vectors = np.asarray(self._encoder.embed(list(texts)), dtype=np.float64)
        offensive = np.asarray(self._offensive.scores(list(texts)), dtype=np.float64)[:, None]
        return np.hstack([vectors, offensive])

    def scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        with self._lock:
            features = self._features(texts)
            columns = {name: model.predict_proba(features)[:, 1] for name, model in self._models.items()}
        return [{name: float(columns[name][i]) for name in CATEGORIES} for i in range(len(texts))]


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> SeedClassifier:
    """The registry's loader: both packaged models (digests checked), then the fit on the seed set."""
    from outcrop.backends import onnx_embed
    from outcrop.backends.nlp import toxicity

    encoder = onnx_embed.load(f"{name}/encoder", config, files)
    offensive = toxicity.load(
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
    return SeedClassifier(name, encoder, offensive, c=float(config.get("c", 4.0)))


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
