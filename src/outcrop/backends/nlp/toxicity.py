"""Runtime "profanity-check" (kind toxicity): alt-profanity-check (MIT), a calibrated linear SVM over words.

It was trained on labelled toxic comments and answers one probability per text that the text is
offensive (profanity, insults, threats alike); it does not tell those kinds apart. Catalog keys:
`model_package` + `model_file` (checked against `sha256`) and `vectorizer_file` (against
`vectorizer_sha256`): the two files the package loads when it is imported.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from outcrop.backends.packaged import ModelFiles, import_optional, verify_sha256

_PACKAGE = "alt-profanity-check"


class OffensiveLanguage:
    languages = ("en",)

    def __init__(self, model_id: str, module: Any) -> None:
        self.model_id = model_id
        self._module = module
        self._lock = threading.Lock()

    def scores(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        with self._lock:
            return [float(p) for p in self._module.predict_prob(list(texts))]


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> OffensiveLanguage:
    """The registry's loader: both pickled files checked before the package unpickles them."""
    package = config.get("model_package", _PACKAGE)
    model = files.packaged(config, "model", defaults=(_PACKAGE, "profanity_check/data/model.joblib"))
    verify_sha256(model, config.get("sha256"))
    vectorizer = files.packaged(
        {"vectorizer_package": package, **config},
        "vectorizer",
        defaults=(_PACKAGE, "profanity_check/data/vectorizer.joblib"),
    )
    verify_sha256(vectorizer, config.get("vectorizer_sha256"))
    module = import_optional("profanity_check", "pip install --no-deps alt-profanity-check==1.9.1")
    return OffensiveLanguage(name, module)
