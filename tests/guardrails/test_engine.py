"""The engine's combination rules without a server: masks, blocked messages, FULL scope, usage units."""

from __future__ import annotations

from outcrop.guardrails.engine import _mask, units


def test_masks_keep_the_first_then_longest_of_overlapping_spans() -> None:
    text = "mail jane@example.com now"
    assert _mask(text, [(5, 21, "{EMAIL}"), (5, 9, "{NAME}")]) == "mail {EMAIL} now"
    assert _mask("a b c", [(4, 5, "{C}"), (0, 1, "{A}")]) == "{A} b {C}"


def test_units_are_per_thousand_characters_per_text() -> None:
    assert units(["x" * 1000, "x" * 1001, ""]) == 3
