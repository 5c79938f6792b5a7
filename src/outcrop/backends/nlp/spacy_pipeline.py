"""Runtime "spacy" (kind nlp): one packaged spaCy pipeline, for the language its catalog entry names.

Catalog keys: `language` (ISO 639-1), `package` (the importable pipeline package) and `requirement` (what
to pip install when it is missing). spaCy loads a folder of weight files, so no single digest is pinned;
the package version in `requirement` is the pin.

The small packaged pipelines give no per-prediction confidence, so every result carries the pipeline's
own evaluation figure instead (precision of that entity type, tagging accuracy), read from its meta.json.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from outcrop.backends.nlp.protocols import Analysis, Span, Token
from outcrop.backends.packaged import ModelFiles, import_optional


@dataclass(frozen=True)
class SharedPipeline:
    """A loaded spaCy `Language` and the lock every caller runs it under (spaCy does not promise thread
    safety): the "spacy" runtime and presidio share one per pipeline package instead of loading it twice."""

    nlp: Any
    lock: threading.Lock


# Filled only by loaders the registry runs one at a time (Runtime imports="spacy"): that is what makes the
# first import of spaCy and each pipeline's load single-flight.
_PIPELINES: dict[str, SharedPipeline] = {}


def _has_content(chunk: Any) -> bool:
    """A noun chunk worth calling a key phrase: not a bare pronoun, not punctuation or a lone letter."""
    words = [t for t in chunk if not (t.is_punct or t.is_space)]
    if not words or all(t.pos_ == "PRON" for t in words):
        return False
    return any(len(t.text) > 1 and t.text.isalnum() for t in words)


class SpacyPipeline:
    """One loaded pipeline; calls are serialised because spaCy does not promise thread safety."""

    def __init__(self, model_id: str, language: str, shared: SharedPipeline) -> None:
        self.model_id = model_id
        self.language = language
        self._nlp = nlp = shared.nlp
        self._lock = shared.lock
        performance = nlp.meta.get("performance", {})
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


def load_pipeline(package: str, requirement: str) -> SharedPipeline:
    """The installed pipeline package's `Language`, loaded once per process (called by the registry's
    loaders of imports group "spacy" only, one at a time)."""
    found = _PIPELINES.get(package)
    if found is None:
        nlp = import_optional(package, f"pip install {requirement}").load()
        found = _PIPELINES[package] = SharedPipeline(nlp, threading.Lock())
    return found


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> SpacyPipeline:
    """The registry's loader."""
    package = str(config["package"])
    requirement = str(config.get("requirement", package))
    return SpacyPipeline(name, str(config["language"]), load_pipeline(package, requirement))
