"""The grounding detector (kind "grounding"): scores in [0, 1], key facts a source lacks, words, meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from outcrop.backends.fake import FakeEmbedder
from outcrop.backends.grounding import EvidenceDetector, GroundingDetector, key_facts, stem
from outcrop.backends.registry import ModelRegistry

LIGHTHOUSE = (
    "The Harbor Point lighthouse was built in 1871. Its lamp is visible for eighteen nautical miles, and the "
    "keeper climbs 112 steps to reach the lantern room."
)
BIKE = "Mira Tell runs Zorblax. The Zorblax Z3 costs 400 euros and is 3 metres long."


@pytest.mark.parametrize("meaning", [False, True])
def test_supported_claims_score_high_against_their_source_only(meaning: bool) -> None:
    found = EvidenceDetector("evidence", "fake-embed" if meaning else None)
    embedder = FakeEmbedder("fake-embed", 64) if meaning else None
    claim = "The lighthouse was built in 1871."
    (against,) = found.grounding([claim], [LIGHTHOUSE, BIKE], "When was it built?", embedder)
    assert against[0].score >= (0.7 if meaning else 1.0) and not against[0].missing
    assert (against[0].similarity is not None) is meaning
    assert against[1].score <= 0.15 and "1871" in against[1].missing
    assert all(0.0 <= s.score <= 1.0 for s in against)


def test_a_number_must_count_the_same_thing() -> None:
    found = EvidenceDetector("evidence", None)
    # 400 is in the source, but as euros: "weighs 400 kg" is not supported
    weighs = found.grounding(["The Z3 weighs 400 kg."], [BIKE])[0][0]
    costs = found.grounding(["The Z3 costs 400 euros."], [BIKE])[0][0]
    assert weighs.missing == ("400",) and weighs.score <= 0.15
    assert costs.score == 1.0
    # a number written in words in the source supports digits in the claim
    assert found.grounding(["Its lamp is visible for 18 nautical miles."], [LIGHTHOUSE])[0][0].score == 1.0


def test_names_the_source_lacks_cap_the_score() -> None:
    found = EvidenceDetector("evidence", None)
    result = found.grounding(["The keeper is John Smith."], [LIGHTHOUSE])[0][0]
    assert set(result.missing) == {"john", "smith"} and result.score <= 0.15
    assert key_facts("The Z3 is made by Orrin Cycles in 2019.") == (["2019"], ["z3", "orrin", stem("cycle")])
    assert key_facts("One of the oldest.") == ([], [])  # number words and a sentence's first word: no facts


def test_words_of_the_question_the_source_lacks_count_double() -> None:
    found = EvidenceDetector("evidence", None)
    plain = found.grounding(["Zorblax was founded by Mira Tell."], [BIKE])[0][0]
    asked = found.grounding(["Zorblax was founded by Mira Tell."], [BIKE], "Who founded Zorblax?")[0][0]
    assert asked.coverage < plain.coverage
    # restating the question's relation ("founded") around a name from the source is not support
    assert "found" in asked.missing and asked.score <= 0.15
    # a word the source says another way ("price" for "costs") is not held against the claim
    price = found.grounding(["The Z3 price is 400 euros."], [BIKE], "What is the price of the Z3?")[0][0]
    assert not price.missing and price.score >= 0.8


def test_relevance_of_an_answer_to_its_query() -> None:
    found = EvidenceDetector("evidence", None)
    assert found.relevance("When was the lighthouse built?", "The lighthouse was built in 1871.") == 1.0
    assert found.relevance("When was the lighthouse built?", "Sourdough rises slowly.") == 0.0
    meaning = EvidenceDetector("evidence", "fake-embed")
    score = meaning.relevance("lighthouse built", "lighthouse built", FakeEmbedder("fake-embed", 64))
    assert 0.9 <= score <= 1.0


def test_stems_match_inflections() -> None:
    assert stem("weighs") == stem("weigh") and stem("batteries") == stem("battery")
    assert stem("cycles") == stem("cycle") and stem("priced") == stem("price") == stem("prices")
    assert stem("eighteen") == "18" and stem("Glass") == "glass"


def test_the_registry_serves_the_kind_and_its_fake(tmp_path: Path) -> None:
    config = {"runtime": "evidence", "kind": "grounding", "embedding_model": "all-minilm-l6-v2"}
    real = ModelRegistry({"g": config}, tmp_path).get("g", "grounding")
    fake = ModelRegistry({"g": config}, tmp_path, fake=True).get("g", "grounding")
    assert isinstance(real, GroundingDetector) and real.embedding_model == "all-minilm-l6-v2"
    assert isinstance(fake, GroundingDetector) and fake.embedding_model is None


def test_a_time_written_with_its_clock_words_is_the_sources_time() -> None:
    from outcrop.backends.grounding import score_claim

    source = "On Saturdays it opens at 10 and closes at 2. It is closed on Sundays."
    query = "What time does the library close on Saturdays?"
    for claim in (
        "It closes at 2 PM on Saturdays.",
        "On Saturdays it closes at 2:00 p.m.",
        "It closes at 2 on Saturdays.",
    ):
        assert score_claim(claim, source, query).missing == (), claim
    assert score_claim("It closes at 7 PM on Saturdays.", source, query).missing == ("7",)
