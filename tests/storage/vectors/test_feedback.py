from __future__ import annotations

from outcrop.storage.vectors.feedback import STOP_WORDS, expanded_query, words


def test_words_drop_stop_words_digits_and_short_words() -> None:
    assert words("The 3 flows of air, at Mach 2, in a nozzle") == ["flows", "air", "mach", "nozzle"]


def test_expansion_adds_the_words_the_feedback_shares_and_keeps_the_query_twice() -> None:
    feedback = [
        "boundary layer transition on a flat plate at hypersonic speed",
        "transition of the laminar boundary layer, heat transfer",
        "laminar flow and heat transfer near the leading edge",
    ]
    expanded = expanded_query("boundary layer", feedback, terms=3)
    query_part, added = expanded[: len("boundary layer boundary layer")], expanded.split()[4:]
    assert query_part == "boundary layer boundary layer"
    assert added == ["transition", "laminar", "heat"]  # shared by two texts each, best weights first
    assert not set(added) & STOP_WORDS


def test_no_feedback_leaves_the_query_alone() -> None:
    assert expanded_query("wing flutter", []) == "wing flutter"
    assert expanded_query("wing flutter", ["the wing and the flutter"]) == "wing flutter"
