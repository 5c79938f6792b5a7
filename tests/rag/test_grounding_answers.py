"""The answer check's question test (rag/answers.py): a true sentence that does not answer the question is no
answer, before the answer has begun; what is not a factoid question is left to grounding alone."""

from __future__ import annotations

from outcrop.backends.grounding import EvidenceDetector
from outcrop.rag.answers import answers, question_kind, subject
from outcrop.rag.generate import sentences
from outcrop.rag.grounding import FALLBACK, AnswerCheck
from outcrop.storage.vectors import Hit

MILL = (
    "The Orlen windmill was built in 1764 by the miller Jonas Veck. Its sails span 24 metres. "
    "The mill grinds 3 tonnes of flour a week, and a tour costs 5 euros."
)


def test_subject_is_the_names_and_their_phrase() -> None:
    assert subject("How long is the warranty on the Orlen K9 frame?") == {"orlen", "k9", "fram"}
    assert subject("How many people live on the southern shore of Lake Ambrel?") == {"lak", "ambrel"}


def test_question_kinds() -> None:
    assert question_kind("How many sails does the mill have?") == ("amount", frozenset({"many"}))
    assert question_kind("How long are the sails?") == ("amount", frozenset({"long"}))
    assert question_kind("When was the mill built?")[0] == "date"
    assert question_kind("In which year was the mill built?") == ("date", frozenset({"year"}))
    assert question_kind("Who built the mill?")[0] == "name"
    assert question_kind("What is the span of the sails?")[0] == "thing"
    for open_question in (
        "Why does the mill stand on a hill?",
        "What makes the sails turn?",
        "How does the mill grind flour?",
        "Summarise the history of the mill.",
        "Volcanoes erupt when magma rises through the crust",  # a statement holding "when"
        "The miller knows who built it",
    ):
        assert question_kind(open_question)[0] is None, open_question


def test_a_right_answer_answers() -> None:
    assert answers("When was the Orlen windmill built?", "The Orlen windmill was built in 1764.")
    # what the question is about may be left to the passage that supports the sentence
    assert answers("Who built the Orlen windmill?", "It was built by the miller Jonas Veck.", [MILL])
    assert not answers("Who built the Orlen windmill?", "It was built by the miller Jonas Veck.", ["Veck."])
    assert answers("How much is a tour of the Orlen windmill?", "A tour costs 5 euros.", [MILL])
    assert answers("How much flour does the mill grind?", "The mill grinds 3 tonnes of flour a week.")
    assert answers("How many people live in Orlen?", "Orlen has 420 inhabitants.")  # "live" goes unsaid
    assert answers("How wide do the sails span?", "Its sails span twenty-four metres.")


def test_a_true_sentence_beside_the_question_does_not() -> None:
    # the fact next to the one asked: a number, but not of what was asked
    assert not answers("How much did it cost to build the Orlen windmill?", "It was built in 1764.")
    # the kind is missing: no date for when, no new name for who
    assert not answers("When was the Orlen windmill built?", "It was built by the miller Jonas Veck.")
    assert not answers("Who built the Orlen windmill?", "The Orlen windmill was built in 1764.")
    # the same fact of another thing, or without the question's qualifier
    assert not answers("How many tonnes of flour does the mill grind each year?", MILL.split(". ")[2])
    assert not answers(
        "How long are the sails of the southern mill?", "The northern mill's sails span 24 metres."
    )


def test_an_amount_stands_beside_the_attribute_asked() -> None:
    # a number of another measure answers no "how wide", "how tall", "how deep"
    pond = ["The Orlen mill pond is 80 metres long and 30 metres wide."]
    assert not answers("How wide is the Orlen mill pond?", "The pond is 80 metres long.", pond)
    assert answers("How wide is the Orlen mill pond?", pond[0])
    assert answers("How wide is the Orlen mill pond?", "It measures 30 metres across.", pond)
    assert not answers("How tall is the Orlen windmill?", "The Orlen windmill is 240 years old.")
    assert answers("How tall is the Orlen windmill?", "The Orlen windmill has a height of 19 metres.")
    assert not answers("How deep is the Orlen mill pond?", "The Orlen mill pond is 80 metres long.")
    # "how long" takes a length, a duration or their units
    assert answers("How long does the Orlen mill tour take?", "The Orlen mill tour takes 40 minutes.")
    assert answers("How long is the Orlen mill race?", "The Orlen mill race runs for 2 kilometres.")
    assert not answers("How long is the Orlen mill tour?", "The Orlen mill tour costs 5 euros.")


def test_how_many_counts_the_thing_asked() -> None:
    assert answers("How many sails does the Orlen windmill have?", "The Orlen windmill has 4 sails.")
    assert answers("How many sails does the Orlen windmill have?", "It has four wooden sails.", [MILL])
    assert answers("How many people live in Orlen?", "Orlen has 420 inhabitants.")
    # a count of another thing, though the word asked stands in the sentence
    assert not answers(
        "How many millers work at the Orlen windmill?", "The millers grind 3 tonnes of flour a week."
    )
    assert not answers("How many sails does the Orlen windmill have?", "Its 4 doors face the sails.")
    # the number asked stands beside what it counts in the passage too, not only in the sentence
    crew = ["The Orlen windmill has a crew of 3 and 2 apprentices."]
    assert answers("How many apprentices does the Orlen windmill have?", "It has 2 apprentices.", crew)
    assert not answers(
        "How many apprentices does the Orlen windmill have?", "The apprentices number 3.", crew
    )
    pond = ["The Orlen mill pond is 80 metres long and 30 metres wide."]
    assert not answers("How wide is the Orlen mill pond?", "The Orlen mill pond is 80 metres wide.", pond)
    # "how much flour" is answered by a mass without the word flour; a count of loaves answers nothing
    assert answers("How much flour does the Orlen mill hold?", "The Orlen mill holds 9 tonnes.")
    assert not answers("How much flour does the Orlen mill use?", "The Orlen mill bakes 90 loaves.")


def test_a_year_answers_when_beside_the_event_asked() -> None:
    history = ["The Orlen windmill was built in 1764 and restored in 1950."]
    assert answers("When was the Orlen windmill built?", "It was built in 1764.", history)
    assert not answers("When was the Orlen windmill built?", "The Orlen windmill was built in 1950.", history)


def test_open_questions_are_left_to_grounding() -> None:
    assert answers("Why is the mill famous?", "Its sails span 24 metres.")
    assert answers("Tell me about the mill.", "The mill grinds 3 tonnes of flour a week.")


def check_answer(question: str, raw: str) -> str:
    check = AnswerCheck(
        EvidenceDetector("evidence", None), None, question, [Hit("a", "mill", MILL, {}, None, 1.0)]
    )
    for sentence in sentences(raw, 1):
        check.add(sentence)
    return check.answer()[0]


def test_the_check_drops_sentences_that_do_not_answer_until_one_does() -> None:
    # the passage recited for a question it cannot answer: every sentence is true, none answers
    assert check_answer("How much did it cost to build the Orlen windmill?", MILL) == FALLBACK
    # the answer comes second: what stood before it is dropped, what follows it is kept if grounded
    text = check_answer(
        "How much does a tour of the Orlen windmill cost?",
        "The Orlen windmill was built in 1764. A tour costs 5 euros. [1] Its sails span 24 metres.",
    )
    assert text == "A tour costs 5 euros. Its sails span 24 metres."


def test_how_long_does_it_take_is_answered_with_takes() -> None:
    """'take' is no fact the source must hold: 'it takes 5 hours' is grounded in 'in 5 hours'."""
    passage = "The Orlen mill grinds a tonne of flour in 5 hours."
    check = AnswerCheck(
        EvidenceDetector("evidence", None),
        None,
        "How long does the Orlen mill take to grind a tonne of flour?",
        [Hit("a", "mill", passage, {}, None, 1.0)],
    )
    for sentence in sentences("The Orlen mill takes 5 hours to grind a tonne of flour. [1]", 1):
        check.add(sentence)
    assert check.answer()[0] == "The Orlen mill takes 5 hours to grind a tonne of flour."


def test_a_bare_value_is_judged_by_the_passage_sentence_holding_it() -> None:
    # the value alone ("3", "Jonas Veck"): the passage sentence that holds it must answer the question
    assert answers("How many tonnes of flour does the Orlen mill grind a week?", "3", [MILL])
    assert answers("Who built the Orlen windmill?", "Jonas Veck", [MILL])
    assert check_answer("How many tonnes of flour does the Orlen mill grind a week?", "[1] 3") == "3"
    # held by a sentence that answers something else, or by no sentence of the passages
    assert not answers("How many sails does the Orlen windmill have?", "24", [MILL])
    assert not answers("Who repaired the Orlen windmill?", "Jonas Veck", [MILL])
    assert not answers("How many sails does the Orlen windmill have?", "4", [MILL])
    assert check_answer("How many sails does the Orlen windmill have?", "[1] 24") == FALLBACK
    # a short answer that restates the question is judged as it stands
    assert not answers("How many sails does the Orlen windmill have?", "24 sails", [MILL])


def test_an_amount_stands_in_the_passage_sentence_of_the_relation_asked() -> None:
    # true words wrongly paired: the tour's price is no cost of building
    assert not answers(
        "How much did it cost to build the Orlen windmill?", "Building it cost 5 euros.", [MILL]
    )
    assert not answers(
        "How much did it cost to build the Orlen windmill?",
        "The cost of building the mill was 5 euros.",
        [MILL],
    )
    # the passage sentence holds every word asked, so the answer may leave one unsaid
    visits = ["The Orlen windmill is open to visitors in summer, and a tour costs 5 euros."]
    assert answers("How much does a tour to visit the Orlen windmill cost?", "A tour costs 5 euros.", visits)
    assert not answers(
        "How much does a tour to visit the Orlen windmill cost?", "A tour costs 5 euros.", [MILL]
    )


def test_a_name_stands_in_the_passage_sentence_of_the_relation_asked() -> None:
    museum = ["The Orlen museum shows 40 clocks, the oldest made in 1520. Its curator is Ada Lund."]
    assert not answers(
        "Who made the oldest clock in the Orlen museum?", "Ada Lund made the oldest clock.", museum
    )
    assert answers("Who is the curator of the Orlen museum?", "Its curator is Ada Lund.", museum)
    assert answers("Who built the Orlen windmill?", "Jonas Veck built it.", [MILL])
