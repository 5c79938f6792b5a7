"""Custom regular expressions of a sensitive information policy (`regexesConfig`).

AWS compiles them as Java patterns; the `regex` package reads the common subset (classes, quantifiers, groups,
lookarounds, possessive quantifiers, `\\p{...}` properties) the same way, and a pattern it cannot compile is
refused at create time. It is used rather than `re` for its time limit: a pattern that backtracks
catastrophically on some text ("(a|aa)+$" on a long run of a's) would otherwise hold a worker thread for
minutes. Past `TIME_LIMIT_S` the evaluation stops with `RegexTooSlow`, which the engine answers as a
ValidationException naming the regex: the text is never passed on unscreened.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import regex  # type: ignore[import-untyped]

TIME_LIMIT_S = 0.1  # one configured regex over one text; an ordinary pattern takes microseconds
error = regex.error  # what `compiled` raises for a pattern it cannot read


class RegexTooSlow(Exception):
    """A configured regex did not finish within the time limit on a text."""

    def __init__(self, name: str, length: int) -> None:
        super().__init__(
            f"The regex {name} did not finish within {int(TIME_LIMIT_S * 1000)} ms on a text of {length} "
            "characters: its pattern backtracks catastrophically (nested or overlapping repetition such as "
            "(a|aa)+ or (a+)+). Rewrite the pattern so each character can be matched only one way."
        )


@lru_cache(maxsize=512)
def compiled(pattern: str) -> Any:
    """The compiled pattern (`error` for one that cannot be read)."""
    return regex.compile(pattern)


@dataclass(frozen=True)
class RegexMatch:
    name: str
    pattern: str
    match: str
    start: int
    end: int


def find_matches(text: str, name: str, pattern: str) -> list[RegexMatch]:
    """Every non-empty match of one configured regex in `text` (RegexTooSlow past the time limit)."""
    try:
        return [
            RegexMatch(name, pattern, found.group(), found.start(), found.end())
            for found in compiled(pattern).finditer(text, timeout=TIME_LIMIT_S)
            if found.end() > found.start()
        ]
    except TimeoutError:
        raise RegexTooSlow(name, len(text)) from None
