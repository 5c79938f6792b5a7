"""Denied topics: whether a text is about a topic given by a name, a definition and up to five examples.

The decision is embedding similarity: the text, and each of its sentences, against the topic's definition
and examples; a text is about the topic when its best sentence is close enough to an example
(`EXAMPLE_THRESHOLD`) or to the definition (`DEFINITION_THRESHOLD`). The thresholds were calibrated on
all-MiniLM-L6-v2 with bench/guardrails_data.py, where benign look-alikes ("the stock room" against
investment advice) must pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from outcrop.guardrails.detectors.content import MAX_SENTENCES, sentences
from outcrop.guardrails.types import Source

Embed = Callable[[Sequence[str]], list[list[float]]]
EXAMPLE_THRESHOLD = 0.62
DEFINITION_THRESHOLD = 0.5


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def topic_scores(embed: Embed, text: str, topics: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """Per topic: the best cosine of a text unit to its definition, and to any of its examples (0 when it
    has none)."""
    units = [text]
    parts = sentences(text)
    if len(parts) > 1:
        units += parts[:MAX_SENTENCES]
    anchors: list[str] = []
    spans: list[tuple[int, int]] = []
    for topic in topics:
        start = len(anchors)
        anchors.append(f"{topic.get('name', '')}: {topic.get('definition', '')}")
        anchors.extend(str(example) for example in topic.get("examples") or ())
        spans.append((start, len(anchors)))
    vectors = embed([*units, *anchors])
    unit_vectors, anchor_vectors = vectors[: len(units)], vectors[len(units) :]
    found = []
    for start, end in spans:
        definition = max(_cosine(unit, anchor_vectors[start]) for unit in unit_vectors)
        examples = max(
            (_cosine(unit, anchor_vectors[i]) for unit in unit_vectors for i in range(start + 1, end)),
            default=0.0,
        )
        found.append((definition, examples))
    return found


def about(definition: float, examples: float) -> bool:
    """The decision from the two similarities."""
    return examples >= EXAMPLE_THRESHOLD or definition >= DEFINITION_THRESHOLD


def assess_topics(
    embed: Embed, text: str, topics: Sequence[dict[str, Any]], source: Source, *, full: bool = False
) -> tuple[list[dict[str, Any]], bool]:
    """The topicPolicy "topics" assessment entries of `text` (those detected; every evaluated topic when
    `full`) and whether a BLOCK fired."""
    direction = "input" if source == "INPUT" else "output"
    active = [topic for topic in topics if topic.get(f"{direction}Enabled", True)]
    if not active or not text.strip():
        return [], False
    found: list[dict[str, Any]] = []
    blocked = False
    for topic, (definition, examples) in zip(active, topic_scores(embed, text, active), strict=True):
        detected = about(definition, examples)
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
