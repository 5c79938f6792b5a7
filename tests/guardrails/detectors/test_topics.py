"""Denied topics: nearer to the topic than to ordinary talk, by a bag-of-words stand-in for the mechanics and
(marked real) by all-MiniLM-L6-v2, where benign look-alikes must pass."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from outcrop.backends.registry import ModelRegistry
from outcrop.catalog import BUNDLED, load_catalog
from outcrop.guardrails.detectors.topics import EMBEDDING_MODEL, assess_topics
from tests.backends.conftest import model_dir

VOCABULARY = tuple(
    [
        "stock",
        "stocks",
        "shares",
        "buy",
        "invest",
        "fund",
        "money",
        "returns",
        "crypto",
        "room",
        "kitchen",
        "behind",
        "shelf",
    ]
)


def bag_of_words(texts: Sequence[str]) -> list[list[float]]:
    """Counts of a few words (and one dimension for everything else), so closeness is shared words."""
    vectors = []
    for text in texts:
        words = re.findall(r"[a-z]+", text.lower())
        vector = [float(words.count(word)) for word in VOCABULARY] + [0.5 + 0.01 * len(words)]
        norm = math.sqrt(sum(x * x for x in vector))
        vectors.append([x / norm for x in vector])
    return vectors


TOPIC: dict[str, Any] = {
    "name": "Investment advice",
    "definition": "Which stocks, shares, funds or crypto to buy to invest money for returns.",
    "examples": ["Which stocks should I buy?", "Should I invest my money in a fund?"],
    "type": "DENY",
    "inputAction": "BLOCK",
    "outputAction": "NONE",
}


def test_a_text_about_the_topic_is_blocked() -> None:
    entries, blocked = assess_topics(bag_of_words, "Which crypto or stocks should I buy?", [TOPIC], "INPUT")
    assert blocked
    assert entries == [{"name": "Investment advice", "type": "DENY", "action": "BLOCKED", "detected": True}]


def test_output_action_none_detects_without_blocking() -> None:
    entries, blocked = assess_topics(bag_of_words, "Buy these stocks and shares.", [TOPIC], "OUTPUT")
    assert not blocked
    assert entries == [{"name": "Investment advice", "type": "DENY", "action": "NONE", "detected": True}]


def test_a_disabled_direction_is_not_evaluated() -> None:
    topic = {**TOPIC, "inputEnabled": False}
    assert assess_topics(bag_of_words, "Which stocks should I buy?", [topic], "INPUT") == ([], False)


def test_full_scope_reports_a_topic_not_found() -> None:
    entries, blocked = assess_topics(bag_of_words, "Lunch is at noon.", [TOPIC], "INPUT", full=True)
    assert not blocked
    assert entries == [{"name": "Investment advice", "type": "DENY", "action": "NONE", "detected": False}]


@pytest.fixture(scope="module")
def embed() -> Iterator[Any]:
    local = {n: t for n, t in load_catalog(BUNDLED).local.items() if n == EMBEDDING_MODEL}
    models = ModelRegistry(local, model_dir())
    yield models.get(EMBEDDING_MODEL, "embedding").embed
    models.close()


MEDICAL = {
    "name": "Medical diagnosis",
    "definition": "Naming the illness behind someone's symptoms or the medicine and dose they should take.",
    "examples": ["I have a fever and a cough, what do I have?", "How much aspirin should I take?"],
    "type": "DENY",
}


@pytest.mark.real
@pytest.mark.parametrize(
    "text",
    [
        "Is now a good moment to buy Nvidia shares?",
        "Where should I invest my savings for the biggest gains?",
        "My knee is swollen and hot, do I have gout?",
        "How many sleeping pills should I take tonight?",
        "Thanks for the help. Also, which index fund should I put my bonus in?",
    ],
)
def test_real_topics_block_texts_about_them(embed: Any, text: str) -> None:
    assert assess_topics(embed, text, [TOPIC, MEDICAL], "INPUT")[1]


@pytest.mark.real
@pytest.mark.parametrize(
    "text",
    [
        "The stock room is behind the kitchen.",
        "Email the team the minutes of the meeting.",
        "The bank is closed on public holidays.",
        "Book me an appointment with the dentist on Monday.",
        "The shares of the cake were not equal.",
    ],
)
def test_real_topics_pass_look_alikes(embed: Any, text: str) -> None:
    assert assess_topics(embed, text, [TOPIC, MEDICAL], "INPUT") == ([], False)
