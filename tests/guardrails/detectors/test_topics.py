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
from outcrop.guardrails.detectors import topics
from outcrop.guardrails.detectors.topics import EMBEDDING_MODEL, about, assess_topics, topic_margins
from outcrop.guardrails.vectors import Embeddings
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


LOOKALIKE = "Put the spare chairs in the stock room."


def test_a_quick_copys_decision_near_the_edge_is_taken_on_the_exact_vectors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(topics, "_VECTORS", topics._Vectors())
    exact_calls: list[list[str]] = []

    def wrong(texts: Sequence[str]) -> list[list[float]]:  # a quick copy that errs on the look-alike
        return bag_of_words(["Which stocks should I buy?" if t == LOOKALIKE else t for t in texts])

    def exact_words(texts: Sequence[str]) -> list[list[float]]:
        exact_calls.append(list(texts))
        return bag_of_words(texts)

    def exact() -> Embeddings:
        return Embeddings(exact_words, "exact")

    expected = topic_margins(bag_of_words, LOOKALIKE, [TOPIC], "words")
    assert not about(*expected[0])
    # an error band of zero: no decision is near the edge, the quick copy's stands, nothing is embedded again
    monkeypatch.setattr(topics, "RECHECK_SIMILARITY", 0.0)
    monkeypatch.setattr(topics, "RECHECK_MARGIN", 0.0)
    quick = topic_margins(wrong, LOOKALIKE, [TOPIC], "quick", recheck=exact)
    assert about(*quick[0]) and exact_calls == []
    # a band as wide as the error: the unit is decided on the exact model's vectors
    monkeypatch.setattr(topics, "RECHECK_MARGIN", 1.0)
    rechecked = topic_margins(wrong, LOOKALIKE, [TOPIC], "quick", recheck=exact)
    assert rechecked[0] == pytest.approx(expected[0]) and not about(*rechecked[0])
    assert [LOOKALIKE] in exact_calls  # the unit itself (then the anchors and background, once)


def test_only_the_units_near_the_edge_are_embedded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(topics, "_VECTORS", topics._Vectors())
    asked, looks_alike = "Which crypto or stocks should I buy?", "Put the spare chairs in the stock room."
    text = f"{asked} {looks_alike}"
    seen: list[list[str]] = []

    def exact_words(texts: Sequence[str]) -> list[list[float]]:
        seen.append(list(texts))
        return bag_of_words(texts)

    quick = Embeddings(bag_of_words, "quick")
    quick.prefetch([], guarded=[text])  # the whole text's vector from its sentences', as the engine's
    near, margins = topics._similarities(quick, topics.units_of(text), [TOPIC], "quick")
    # the derived whole is at the edge; each sentence is far from it (one well in, one well out)
    assert topics.borderline(near, margins)[:, 0].tolist() == [True, False, False]
    topic_margins(quick, text, [TOPIC], "quick", recheck=lambda: Embeddings(exact_words, "exact"))
    units = {text, asked, looks_alike}
    # the whole text again, derived from exact sentence vectors: the sentences embedded once, it not at all
    assert [call for call in seen if units & set(call)] == [[asked, looks_alike]]


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
