"""Offensive-language scores from alt-profanity-check (MIT): a linear SVM over word n-grams, calibrated.

It was trained on labelled toxic comments and answers one probability per text that the text is
offensive (profanity, insults, threats alike); it does not tell those kinds apart.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from outcrop.backends.nlp._lazy import Lazy
from outcrop.backends.packaged import import_optional


def _build() -> Any:
    return import_optional("profanity_check", "pip install --no-deps alt-profanity-check==1.9.1")


class OffensiveLanguage:
    languages = ("en",)

    def __init__(self) -> None:
        self._module: Lazy[Any] = Lazy(_build)
        self._lock = threading.Lock()

    def scores(self, texts: Sequence[str]) -> list[float]:
        module = self._module.get()
        with self._lock:
            return [float(p) for p in module.predict_prob(list(texts))]
