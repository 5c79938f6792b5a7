"""Custom regular expressions of a sensitive information policy (`regexesConfig`).

AWS compiles them as Java patterns; Python's `re` reads the common subset (classes, quantifiers, groups,
lookarounds) the same way, and a pattern it cannot compile is refused at create time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern[str]:
    """The compiled pattern (re.error for one Python cannot read)."""
    return re.compile(pattern)


@dataclass(frozen=True)
class RegexMatch:
    name: str
    pattern: str
    match: str
    start: int
    end: int


def find_matches(text: str, name: str, pattern: str) -> list[RegexMatch]:
    """Every non-empty match of one configured regex in `text`."""
    return [
        RegexMatch(name, pattern, found.group(), found.start(), found.end())
        for found in compiled(pattern).finditer(text)
        if found.end() > found.start()
    ]
