"""Runtime "vader" (kind sentiment): VADER, a lexicon and rule model for English (no weights, one lexicon).

Catalog keys: `lexicon_package` + `lexicon_file` (the lexicon VADER reads, checked against `sha256`),
`domain_words` (default true: add Outcrop's review and news words of `vader_domain.py` to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outcrop.backends.nlp.protocols import Polarity
from outcrop.backends.nlp.vader_domain import DOMAIN_WORDS
from outcrop.backends.packaged import ModelFiles, import_optional, verify_sha256

__all__ = ["Polarity", "VaderSentiment", "load"]

_LEXICON = ("vaderSentiment", "vaderSentiment/vader_lexicon.txt")


class VaderSentiment:
    languages = ("en",)

    def __init__(self, model_id: str, analyzer: Any) -> None:
        self.model_id = model_id
        self._analyzer = analyzer

    def polarity(self, text: str) -> Polarity:
        scores = self._analyzer.polarity_scores(text)
        return Polarity(
            float(scores["pos"]), float(scores["neu"]), float(scores["neg"]), float(scores["compound"])
        )


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> VaderSentiment:
    """The registry's loader: the lexicon checked, then VADER's analyzer on it plus the domain words."""
    verify_sha256(files.packaged(config, "lexicon", defaults=_LEXICON), config.get("sha256"))
    module = import_optional("vaderSentiment.vaderSentiment", "pip install vaderSentiment==3.3.2")
    analyzer = module.SentimentIntensityAnalyzer()
    if config.get("domain_words", True):
        analyzer.lexicon.update(DOMAIN_WORDS)
    return VaderSentiment(name, analyzer)
