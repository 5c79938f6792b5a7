"""Runtime "spacy" (kind nlp): one packaged spaCy pipeline, for the language its catalog entry names.

Catalog keys: `language` (ISO 639-1), `package` (the importable pipeline package) and `requirement` (what
to pip install when it is missing). spaCy loads a folder of weight files, so no single digest is pinned;
the package version in `requirement` is the pin.

Confidences: a token's is the tagger's probability of its part of speech (the softmax of the tagger's or
morphologizer's scores, summed over the fine labels that map to that Universal Dependencies tag), computed
from the token vectors the pipeline already made. A noun chunk's is the product of its words' part-of-speech
probabilities: spaCy finds chunks by rules over the tags and the parse, and its greedy parser exposes no
probability, so this is the chance that the tags the rule read are all right (a documented proxy: it does
not see a wrong attachment). Entities carry the pipeline's published precision of their type (meta.json),
as spaCy's greedy entity recogniser exposes no per-entity probability either.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def _label_pos(nlp: Any) -> tuple[Any, list[str]] | None:
    """The component that predicts parts of speech and the UD tag of each of its labels, or None.

    A morphologizer's labels name their POS ("Gender=Masc|Number=Sing|POS=NOUN"); a tagger's fine tags
    (PTB's "NNS") get theirs from the attribute ruler's one-tag patterns (a tag without one keeps its name).
    """
    if "morphologizer" in nlp.pipe_names:
        component = nlp.get_pipe("morphologizer")
        fields = [
            dict(f.split("=", 1) for f in str(label).split("|") if "=" in f) for label in component.labels
        ]
        return component, [field.get("POS", "") for field in fields]
    if "tagger" not in nlp.pipe_names:
        return None
    component = nlp.get_pipe("tagger")
    mapping: dict[str, str] = {}
    if "attribute_ruler" in nlp.pipe_names:
        for rule in nlp.get_pipe("attribute_ruler").patterns:
            pattern, pos = rule.get("patterns", []), rule.get("attrs", {}).get("POS")
            if pos and len(pattern) == 1 and len(pattern[0]) == 1 and set(pattern[0][0]) == {"TAG"}:
                tags = pattern[0][0]["TAG"]
                for tag in tags.get("IN", []) if isinstance(tags, dict) else [tags]:
                    mapping[str(tag)] = str(pos)
    return component, [mapping.get(str(label), str(label)) for label in component.labels]


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
        self._pos_labels = _label_pos(nlp)

    def _pos_probabilities(self, doc: Any) -> list[float]:
        """Each token's probability of the part of speech it was given (the evaluation figure for a
        pipeline without a tagger or morphologizer)."""
        if self._pos_labels is None or not len(doc):
            return [self._pos_accuracy] * len(doc)
        component, label_pos = self._pos_labels
        logits = np.asarray(component.model.predict([doc])[0], dtype=np.float64)
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = weights / weights.sum(axis=1, keepdims=True)
        pos_of = np.array(label_pos)
        # A tag the attribute ruler set from context no label maps to: the top label's probability stands in.
        return [
            float(probabilities[i, pos_of == token.pos_].sum()) or float(probabilities[i].max())
            for i, token in enumerate(doc)
        ]

    def analyze(self, text: str) -> Analysis:
        with self._lock:
            doc = self._nlp(text)
            pos_scores = self._pos_probabilities(doc)
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
                    Span(c.text, c.start_char, c.end_char, "NP", float(np.prod(pos_scores[c.start : c.end])))
                    for c in doc.noun_chunks
                    if _has_content(c)
                ]
            except (NotImplementedError, ValueError):  # a pipeline without a parser or chunk rules
                chunks = []
            tokens = [
                Token(t.text, t.idx, t.idx + len(t.text), t.pos_, score)
                for t, score in zip(doc, pos_scores, strict=True)
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
