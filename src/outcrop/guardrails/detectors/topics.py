"""Denied topics: whether a text is about a topic given by a name, a definition and up to five examples.

The decision is nearest neighbours in a sentence-embedding space: a text (or one of its sentences) is about
a topic when it is closer to the topic's definition or one of its examples than to every sentence of an
ordinary background (`topics_background.py`), by at least `MARGIN`, and that closeness is at least `FLOOR`.
The background is what lets benign look-alikes pass: "the stock room is behind the kitchen" is nearer to
ordinary talk about store rooms than to investment advice, though it shares the word "stock". Calibrated on
all-MiniLM-L6-v2 (`EMBEDDING_MODEL`, the model the engine should route `embed` to).

Vectors of the background, the definitions and the examples are cached per embedding model (named by the
caller, or recognised by the vector of a fixed probe text), so a call embeds only the text and its sentences.

A quicker copy of the model (the guardrails' int8 session) moves similarities by up to about 0.05 and margins
by up to 0.07 (`RECHECK_SIMILARITY`, `RECHECK_MARGIN`: the largest differences from float32 on the dev half
of bench_guardrails --long; int8 activations are scaled per batch, so they vary with a call's batching),
enough to flip a decision near the floor (int8 put "Breastfeeding is recommended for the first six months."
at 0.201-0.206 of investment advice, float32 at 0.175). Given `recheck` (the float32 model the thresholds
were calibrated on), the units the quick vectors find about a topic by less than such an error are embedded
again by it and decided on its vectors; every other unit keeps the quick vectors' decision. Only detections
are checked: int8's errors on the bench's long texts were all near misses let through (recall was 1.000
either way), and benign text is rarely that near: 2 in 30 of the latency bench's 950-character texts are
rechecked (3 in 61 of the long texts' dev half), where checking near misses too would recheck 13 in 30.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from outcrop.guardrails.detectors.content import units_of
from outcrop.guardrails.detectors.topics_background import background
from outcrop.guardrails.types import Source

if TYPE_CHECKING:
    from outcrop.guardrails.vectors import Embeddings

Embed = Callable[[Sequence[str]], list[list[float]]]
EMBEDDING_MODEL = "all-minilm-l6-v2"
MARGIN = 0.0  # the topic must be at least this much nearer than the background
FLOOR = 0.2  # and at least this near (cosine)
# how far a quick (int8) copy's similarity and margin may be from float32's: a unit found about a topic by
# less than this is decided on `recheck`'s vectors (the largest differences on the dev half, rounded up)
RECHECK_SIMILARITY = 0.05
RECHECK_MARGIN = 0.07
_PROBE = "Outcrop guardrail topic probe."
_CACHED_TEXTS = 4096  # anchor vectors kept per model


class _Vectors:
    """Unit vectors of anchor texts per embedding model, and each model's background matrix."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[bytes, tuple[np.ndarray[Any, Any], OrderedDict[str, np.ndarray[Any, Any]]]] = {}

    def embed(
        self, embed: Embed, texts: Sequence[str], anchors: Sequence[str], model: str | None = None
    ) -> tuple[Any, Any, Any]:
        """(text vectors, anchor vectors, background matrix); one embedding call once anchors are cached."""
        if model is None:
            first = _unit(embed([_PROBE, *texts]))
            key, first = np.round(first[0], 3).tobytes(), first[1:]
        else:
            first, key = _unit(embed(list(texts))), f"model:{model}".encode()
        with self._lock:
            found = self._models.get(key)
        if found is None:
            found = (_unit(embed(background())), OrderedDict())
            with self._lock:
                self._models[key] = found
        store = found[1]
        with self._lock:
            missing = [anchor for anchor in dict.fromkeys(anchors) if anchor not in store]
        fresh = dict(zip(missing, _unit(embed(missing)), strict=True)) if missing else {}
        with self._lock:
            store.update(fresh)
            vectors = [fresh[anchor] if anchor in fresh else store[anchor] for anchor in anchors]
            for anchor in anchors:
                store.move_to_end(anchor)
            while len(store) > _CACHED_TEXTS:
                store.popitem(last=False)
        return first, np.array(vectors), found[0]


def _unit(vectors: list[list[float]]) -> np.ndarray[Any, Any]:
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: np.ndarray[Any, Any] = matrix / np.maximum(norms, 1e-12)
    return unit


_VECTORS = _Vectors()


def anchors(topic: dict[str, Any]) -> list[str]:
    """The texts a topic is recognised by: its name with its definition, and each example."""
    return [f"{topic.get('name', '')}: {topic.get('definition', '')}", *map(str, topic.get("examples") or ())]


def _similarities(
    embed: Embed, units: Sequence[str], topics: Sequence[dict[str, Any]], model: str | None
) -> tuple[Any, Any]:
    """(similarity, margin) matrices, a row per unit and a column per topic."""
    every = [anchor for topic in topics for anchor in anchors(topic)]
    unit_vectors, anchor_vectors, ordinary = _VECTORS.embed(embed, units, every, model)
    baseline = (unit_vectors @ ordinary.T).max(axis=1)
    columns = []
    start = 0
    for topic in topics:
        count = len(anchors(topic))
        columns.append((unit_vectors @ anchor_vectors[start : start + count].T).max(axis=1))
        start += count
    near = np.stack(columns, axis=1)
    return near, near - baseline[:, None]


def borderline(similarity: Any, margin: Any) -> Any:
    """Where a quick copy's error could flip the decision (`about` differs across the error box)."""
    low = (similarity - RECHECK_SIMILARITY >= FLOOR) & (margin - RECHECK_MARGIN >= MARGIN)
    high = (similarity + RECHECK_SIMILARITY >= FLOOR) & (margin + RECHECK_MARGIN >= MARGIN)
    return low != high


def topic_margins(
    embed: Embed,
    text: str,
    topics: Sequence[dict[str, Any]],
    model: str | None = None,
    recheck: Callable[[], Embeddings] | None = None,
) -> list[tuple[float, float]]:
    """Per topic: (the best cosine of a text unit to the topic, that unit's margin over the background).
    `model` names the embedding model `embed` runs (None: recognised by a probe text's vector); `recheck`
    gives the float32 model's embeddings when `embed` is a quick copy of it (the module's docstring)."""
    units = units_of(text)
    near, margins = _similarities(embed, units, topics, model)
    rows: Any = []
    if recheck is not None:  # detections a quick copy's error could have made
        doubtful = borderline(near, margins) & (near >= FLOOR) & (margins >= MARGIN)
        rows = np.flatnonzero(doubtful.any(axis=1))
    if recheck is not None and len(rows):
        exact = recheck()
        again = [units[row] for row in rows]
        # the whole text's vector, when wanted, derived from the float32 sentence vectors as the quick one was
        exact.prefetch([unit for unit in again if unit != text], guarded=[text] if 0 in rows else [])
        near[rows], margins[rows] = _similarities(exact, again, topics, exact.model)
    found = []
    for column in range(len(topics)):
        best = int(np.argmax(margins[:, column]))
        found.append((float(near[best, column]), float(margins[best, column])))
    return found


def about(similarity: float, margin: float) -> bool:
    """The decision from a unit's similarity to the topic and its margin over the background."""
    return similarity >= FLOOR and margin >= MARGIN


def assess_topics(
    embed: Embed,
    text: str,
    topics: Sequence[dict[str, Any]],
    source: Source,
    *,
    full: bool = False,
    model: str | None = None,
    margins: Callable[[list[dict[str, Any]]], list[tuple[float, float]]] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The topicPolicy "topics" assessment entries of `text` (those detected; every evaluated topic when
    `full`) and whether a BLOCK fired. `margins`: where the active topics' `topic_margins` come from, if
    not computed here (a cache)."""
    direction = "input" if source == "INPUT" else "output"
    active = [topic for topic in topics if topic.get(f"{direction}Enabled", True)]
    if not active or not text.strip():
        return [], False
    found: list[dict[str, Any]] = []
    blocked = False
    measured = margins(active) if margins is not None else topic_margins(embed, text, active, model)
    for topic, (similarity, margin) in zip(active, measured, strict=True):
        detected = about(similarity, margin)
        blocks = detected and topic.get(f"{direction}Action", "BLOCK") == "BLOCK"
        blocked = blocked or blocks
        if detected or full:
            found.append(
                {
                    "name": str(topic.get("name", "")),
                    "type": "DENY",
                    "action": "BLOCKED" if blocks else "NONE",
                    "detected": detected,
                }
            )
    return found, blocked
