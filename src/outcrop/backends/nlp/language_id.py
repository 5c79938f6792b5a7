"""Language identification with langid.py (97 languages, a small naive Bayes model inside the wheel)."""

from __future__ import annotations

import threading
from typing import Any

from outcrop.backends.nlp._lazy import Lazy
from outcrop.backends.packaged import import_optional


def _build() -> Any:
    module = import_optional("langid.langid", "pip install langid==1.1.6")
    return module.LanguageIdentifier.from_modelstring(module.model, norm_probs=True)


class LanguageIdentifier:
    """`rank` gives (ISO 639-1 code, probability) pairs, most likely first; probabilities sum to 1."""

    def __init__(self) -> None:
        self._identifier: Lazy[Any] = Lazy(_build)
        self._lock = threading.Lock()

    def rank(self, text: str, top: int = 5) -> list[tuple[str, float]]:
        identifier = self._identifier.get()
        with self._lock:
            ranked = identifier.rank(text)
        return [(str(code), float(probability)) for code, probability in ranked[:top]]
