"""Runtime "vader" (kind sentiment): VADER, a lexicon and rule model for English, and a fitted head over it.

Catalog keys: `lexicon_package` + `lexicon_file` (the lexicon VADER reads, checked against `sha256`),
`domain_words` (default true: add Outcrop's review and news words of `vader_domain.py` to it).
With an encoder named (`model_package` + `model_file`, or `model_path`; `tokenizer_package` +
`tokenizer_file`, or `tokenizer_path`; `encoder_sha256`; `n_threads`), `classify` answers from the logistic
head of sentiment_head.py (`c`, default 4.0) over that sentence encoder and VADER's reading; without one,
from VADER's clause rule (sentiment_rule.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from outcrop.backends.nlp import sentiment_rule
from outcrop.backends.nlp.protocols import Polarity
from outcrop.backends.nlp.sentiment_head import LABELS, SCORE_NAMES, SentimentHead, fit_key
from outcrop.backends.nlp.vader_domain import DOMAIN_WORDS
from outcrop.backends.packaged import ModelFiles, import_optional, verify_sha256

__all__ = ["Polarity", "VaderSentiment", "load"]

_LEXICON = ("vaderSentiment", "vaderSentiment/vader_lexicon.txt")
_ENCODER_KEYS = frozenset(
    {
        "model_package",
        "model_file",
        "model_path",
        "tokenizer_package",
        "tokenizer_file",
        "tokenizer_path",
        "n_threads",
    }
)


class VaderSentiment:
    languages = ("en",)

    def __init__(self, model_id: str, analyzer: Any, head: SentimentHead | None = None) -> None:
        self.model_id = model_id
        self._analyzer = analyzer
        self._head = head

    def polarity(self, text: str) -> Polarity:
        scores = self._analyzer.polarity_scores(text)
        return Polarity(
            float(scores["pos"]), float(scores["neu"]), float(scores["neg"]), float(scores["compound"])
        )

    def describe(self, text: str) -> list[float]:
        """VADER's reading as the head's features: the shares, the compound, the rule's label and scores."""
        whole = self.polarity(text)
        label, scores = sentiment_rule.classify(text, self.polarity)
        return [
            whole.positive,
            whole.neutral,
            whole.negative,
            whole.compound,
            *(float(label == name) for name in LABELS),
            *(scores[name] for name in SCORE_NAMES),
        ]

    def classify(self, text: str) -> tuple[str, dict[str, float]]:
        """(Label, scores by SCORE_NAMES summing to 1): the head's answer, or the clause rule's."""
        if self._head is None:
            return sentiment_rule.classify(text, self.polarity)
        shares = self._head.probabilities([text])[0]
        label = max(LABELS, key=lambda name: shares[name])
        return label, {score: shares[name] for name, score in zip(LABELS, SCORE_NAMES, strict=True)}


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> VaderSentiment:
    """The registry's loader: the lexicon checked, then VADER's analyzer on it plus the domain words, and
    the head when an encoder is named (its encoder loads, and it is fitted, on the first `classify`)."""
    lexicon_sha256 = config.get("sha256")
    verify_sha256(files.packaged(config, "lexicon", defaults=_LEXICON), lexicon_sha256)
    module = import_optional("vaderSentiment.vaderSentiment", "pip install vaderSentiment==3.3.2")
    analyzer = module.SentimentIntensityAnalyzer()
    domain = bool(config.get("domain_words", True))
    if domain:
        analyzer.lexicon.update(DOMAIN_WORDS)
    if not (config.get("model_package") or config.get("model_path")):
        return VaderSentiment(name, analyzer)
    sentiment = VaderSentiment(name, analyzer)
    encoder_config: dict[str, Any] = {key: config[key] for key in _ENCODER_KEYS if key in config}
    encoder_config["sha256"] = config.get("encoder_sha256")

    def encoder() -> Any:
        from outcrop.backends import onnx_embed

        embedder = onnx_embed.load(f"{name}/encoder", encoder_config, files)

        def embed(texts: Sequence[str]) -> list[list[float]]:
            return embedder.embed(list(texts))

        return embed

    rule = [sentiment_rule.NEUTRAL_BAND, sentiment_rule.CLAUSE_POLAR, sentiment_rule.LIST_POLAR]
    words = dict(DOMAIN_WORDS) if domain else {}
    reader = json.dumps([lexicon_sha256 or "", words, rule], sort_keys=True)
    c = float(config.get("c", 4.0))
    key = fit_key(c, config.get("encoder_sha256"), reader)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    head = SentimentHead(
        sentiment.describe, encoder, cache=files.cache_dir / "sentiment-head" / f"{safe}-{key}.npz", c=c
    )
    return VaderSentiment(name, analyzer, head)
