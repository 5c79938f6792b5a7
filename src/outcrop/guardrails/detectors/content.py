"""Content filters (SEXUAL, VIOLENCE, HATE, INSULTS, MISCONDUCT) and the prompt-attack filter.

A "content-safety" model (loaded through the model registry, `content_scores`) gives each text a
probability per category; a probability maps to AWS's confidence NONE/LOW/MEDIUM/HIGH (`confidence`), and a
filter's strength says which confidences it acts on: HIGH acts on LOW and up, MEDIUM on MEDIUM and up, LOW on
HIGH only, NONE on nothing. A text is scored whole and sentence by sentence, so one harmful sentence inside
a long harmless text is still found. PROMPT_ATTACK is evaluated only on tagged INPUT text, as AWS does.

Given `embed` (the engine's embeddings of the classifier's `embedding_model`, shared with the denied topics)
a classifier that reads vectors gets them from there, so a text is embedded once per evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, cast

from outcrop.backends.nlp.content_safety import ContentClassifier, VectorContentClassifier
from outcrop.backends.registry import ModelRegistry
from outcrop.guardrails.types import Source

ContentScores = ContentClassifier
Embed = Callable[[Sequence[str]], list[list[float]]]
CONTENT_MODEL = "content-safety-en"  # the catalog entry CORE's engine loads
CONTENT_KIND = "content-safety"
CONTENT_TYPES = ("SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT", "PROMPT_ATTACK")
CONFIDENCES = ("NONE", "LOW", "MEDIUM", "HIGH")
# the lowest probability of each confidence, LOW, MEDIUM, HIGH (measured on bench/guardrails_data.py)
CONFIDENCE_FLOORS = (0.5, 0.7, 0.9)
# the lowest confidence a filter of each strength acts on (index into CONFIDENCES; NONE acts on nothing)
STRENGTH_ACTS_FROM = {"NONE": 4, "LOW": 3, "MEDIUM": 2, "HIGH": 1}
MAX_SENTENCES = 32  # sentences scored one by one (the whole text is always scored)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")


def content_scores(models: ModelRegistry) -> ContentScores:
    """The catalog's content classifier (raises UnknownModel when the catalog lacks it)."""
    classifier: ContentScores = models.get(CONTENT_MODEL, CONTENT_KIND)
    return classifier


def confidence(probability: float) -> str:
    """AWS's confidence for a probability."""
    level = sum(probability >= floor for floor in CONFIDENCE_FLOORS)
    return CONFIDENCES[level]


def acts(strength: str, found: str) -> bool:
    """Whether a filter of `strength` acts on a text found at confidence `found`."""
    return CONFIDENCES.index(found) >= STRENGTH_ACTS_FROM.get(strength, 4)


def sentences(text: str) -> list[str]:
    """The text's sentences (stripped, empty ones dropped)."""
    return [part.strip() for part in _SENTENCE.findall(text) if part.strip()]


def units_of(text: str) -> list[str]:
    """What is scored of a text: the whole text, and its sentences when it has more than one."""
    parts = sentences(text)
    return [text, *parts[:MAX_SENTENCES]] if len(parts) > 1 else [text]


def probabilities(classify: ContentScores, text: str, embed: Embed | None = None) -> dict[str, float]:
    """Each category's probability: the highest over the whole text and each of its sentences."""
    units = units_of(text)
    if embed is not None and hasattr(classify, "scores_from"):  # not isinstance: a Protocol check costs more
        found = cast(VectorContentClassifier, classify).scores_from(units, embed(units), embed)
    else:
        found = classify.scores(units)
    best: dict[str, float] = {}
    for scores in found:
        for name, value in scores.items():
            best[name] = max(best.get(name, 0.0), value)
    return best


def active_filters(
    filters: Sequence[dict[str, Any]], source: Source, *, tagged: bool
) -> list[tuple[str, str, str]]:
    """(type, strength, action) of the filters that evaluate a text of this source and tagging."""
    direction = "input" if source == "INPUT" else "output"
    active = []
    for entry in filters:
        kind = str(entry.get("type", ""))
        strength = str(entry.get(f"{direction}Strength", "NONE"))
        if kind not in CONTENT_TYPES or not entry.get(f"{direction}Enabled", True) or strength == "NONE":
            continue
        if kind == "PROMPT_ATTACK" and (source != "INPUT" or not tagged):
            continue
        active.append((kind, strength, str(entry.get(f"{direction}Action", "BLOCK"))))
    return active


def assess_content(
    classify: ContentScores,
    text: str,
    filters: Sequence[dict[str, Any]],
    source: Source,
    *,
    tagged: bool,
    full: bool = False,
    embed: Embed | None = None,
    scores: Callable[[], dict[str, float]] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The contentPolicy "filters" assessment entries of `text` (those detected; every evaluated filter when
    `full`) and whether a BLOCK fired. `embed`: vectors of the classifier's embedding model, if shared;
    `scores`: where the text's `probabilities` come from, if not computed here (a cache)."""
    active = active_filters(filters, source, tagged=tagged)
    if not active or not text.strip():
        return [], False
    found_scores = scores() if scores is not None else probabilities(classify, text, embed)
    found: list[dict[str, Any]] = []
    blocked = False
    for kind, strength, action in active:
        level = confidence(found_scores.get(kind.lower(), 0.0))
        detected = acts(strength, level)
        blocks = detected and action == "BLOCK"
        blocked = blocked or blocks
        if detected or full:
            found.append(
                {
                    "type": kind,
                    "confidence": level,
                    "filterStrength": strength,
                    "action": "BLOCKED" if blocks else "NONE",
                    "detected": detected,
                }
            )
    return found, blocked
