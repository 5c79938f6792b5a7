"""RetrieveAndGenerate's answer check (rag/grounding.py) and the sentences it is fed (rag/generate.py)."""

from __future__ import annotations

from outcrop.backends.grounding import EvidenceDetector
from outcrop.rag.generate import Sentence, sentences
from outcrop.rag.grounding import FALLBACK, AnswerCheck, assemble, is_refusal
from outcrop.storage.vectors import Hit

VOLCANO = "Rhyolite magma is sticky and traps gas, which makes explosive eruptions."
COFFEE = "A pour-over needs water at 94 degrees. Bloom the grounds for 30 seconds."
HITS = [Hit("a", "volcano", VOLCANO, {}, None, 1.0), Hit("b", "coffee", COFFEE, {}, None, 0.5)]


def check(question: str = "Why are eruptions explosive?") -> AnswerCheck:
    return AnswerCheck(EvidenceDetector("evidence", None), None, question, HITS)


def test_sentences_carry_their_markers_and_line_breaks() -> None:
    found = sentences("Magma is sticky [1]. It traps gas. [1][2]\nWater boils. [7]", 2)
    assert [s.text for s in found] == ["Magma is sticky.", "It traps gas.", "Water boils."]
    assert [set(s.marked) for s in found] == [{0}, {0, 1}, set()]
    assert [s.separator for s in found] == [" ", " ", "\n"]
    assert [s.text for s in sentences("It holds 1.2 ml. [1] Done.", 1)] == ["It holds 1.2 ml.", "Done."]


def test_citations_name_only_passages_that_support_the_sentence() -> None:
    answer = check()
    # marked [2] (coffee) but only the volcano passage holds it: cited to the volcano passage alone
    assert answer.add(Sentence("Rhyolite magma traps gas.", frozenset({1}))) == [
        (Sentence("Rhyolite magma traps gas.", frozenset({1})), (0,))
    ]
    # marked both, supported by one: the other mark is dropped
    assert answer.supporting(Sentence("Bloom the grounds for 30 seconds.", frozenset({0, 1}))) == (1,)
    assert answer.supporting(Sentence("Bloom the grounds for 45 seconds.", frozenset({1}))) == ()


def test_the_answer_keeps_supported_sentences_in_runs() -> None:
    answer = check()
    for sentence in sentences(
        "Rhyolite magma is sticky. [1] It erupts every 9 years. Magma traps gas. [1]", 2
    ):
        answer.add(sentence)
    text, runs = answer.answer()
    assert text == "Rhyolite magma is sticky. Magma traps gas."
    assert [(run.start, run.end, run.sources) for run in runs] == [(0, len(text) - 1, (0,))]


def test_refusal_before_an_answer_settles_on_the_fallback() -> None:
    answer = check()
    answer.add(Sentence("The search results do not mention the eruption date.", frozenset()))
    assert answer.settled
    answer.add(Sentence("Rhyolite magma traps gas.", frozenset({0})))
    assert answer.answer() == (FALLBACK, [])
    empty = check()
    empty.add(Sentence("Mount Ember last erupted in 1911.", frozenset({0})))
    assert not empty.settled and empty.answer() == (FALLBACK, [])


def test_refusals_are_recognised() -> None:
    for text in (
        "I could not find an exact answer to the question.",
        "The search results do not contain information about the price.",
        "The cost is not mentioned in the sources.",
        "I don't know.",
        "There is no information about the founder.",
    ):
        assert is_refusal(text), text
    assert not is_refusal("Rhyolite magma traps gas, which makes eruptions explosive.")


def test_assemble_joins_runs_with_their_spans() -> None:
    text, runs = assemble(
        [(Sentence("A b.", frozenset()), (0,)), (Sentence("C d.", frozenset(), "\n"), (1,))]
    )
    assert text == "A b.\nC d."
    assert [(text[r.start : r.end + 1], r.sources) for r in runs] == [("A b.", (0,)), ("C d.", (1,))]
