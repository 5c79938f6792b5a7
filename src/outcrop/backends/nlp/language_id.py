"""Runtime "langid" (kind language-id): langid.py, 97 languages, a naive Bayes model inside the wheel.

Catalog keys: `model_package` + `model_file` (the module that carries the model, checked against `sha256`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from outcrop.backends.packaged import ModelFiles, import_optional, verify_sha256

_MODEL = ("langid", "langid/langid.py")


class LangidIdentifier:
    """`rank` gives (ISO 639-1 code, probability) pairs, most likely first; probabilities sum to 1."""

    def __init__(self, model_id: str, identifier: Any) -> None:
        self.model_id = model_id
        self._identifier = identifier
        self._lock = threading.Lock()

    def rank(self, text: str, top: int = 5) -> list[tuple[str, float]]:
        with self._lock:
            ranked = self._identifier.rank(text)
        return [(str(code), float(probability)) for code, probability in ranked[:top]]


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> LangidIdentifier:
    """The registry's loader."""
    verify_sha256(files.packaged(config, "model", defaults=_MODEL), config.get("sha256"))
    module = import_optional("langid.langid", "pip install langid==1.1.6")
    return LangidIdentifier(name, module.LanguageIdentifier.from_modelstring(module.model, norm_probs=True))
