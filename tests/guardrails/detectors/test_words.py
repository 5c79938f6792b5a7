"""Word policies: whole words, any case, flexible spaces; the profanity list with its endings."""

from __future__ import annotations

from outcrop.guardrails.detectors.words import custom_matches, profanity_matches


def test_custom_words_match_whole_words_in_any_case() -> None:
    found = custom_matches("Stock  Tips and stocktips and class", ["stock tips", "CLASS"])
    assert [(m.word, m.start) for m in found] == [("stock tips", 0), ("CLASS", 30)]
    assert custom_matches("a classic classroom", ["class"]) == []


def test_profanity_with_endings_and_no_substrings() -> None:
    assert [m.word for m in profanity_matches("Shitty day, fucking hell, bitches")] == [
        "shitty",
        "fucking",
        "bitches",
    ]
    assert profanity_matches("Scunthorpe, class assessment, cocktail, Dickens") == []
