"""Word policies: custom words and phrases, and the managed PROFANITY list.

Both match whole words, case-insensitively, any run of spaces standing for one ("stock  room" is "stock
room"), so "class" never matches inside "classic" and "the stock room" is not "stock" as a prefix of a
longer word. The profanity list is written here (no package in the registries ships one: alt-profanity-
check carries only its SVM's weights); each stem also matches its common endings (-s, -ed, -ing, -er, -y).
Slurs are left to the content filters' HATE category.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

_PROFANITY_LIST = """
    arse arsehole ass asshole asswipe bastard bellend bitch bitchy blowjob bollocks boner bugger bullshit
    butthole clit cock cocksucker crap cum cunt damn dammit dick dickhead dildo dipshit douche douchebag
    dumbass fuck fucker fuckface fuckhead fucking fuckwit goddamn goddamned handjob horseshit jackass
    jerkoff jizz knobhead motherfucker motherfucking nutsack piss pissed prick pussy scumbag shit shite
    shithead shitty skank slut sonofabitch tit tits titties twat wanker whore
"""
PROFANITY = tuple(_PROFANITY_LIST.split())
_ENDINGS = r"(?:s|es|ed|ing|er|ers|y)?"


@dataclass(frozen=True)
class WordMatch:
    word: str  # the configured word (custom) or the text found (managed)
    start: int
    end: int


def _phrase(word: str) -> str:
    return r"\s+".join(re.escape(part) for part in word.split())


@lru_cache(maxsize=256)
def _custom(words: tuple[str, ...]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """One alternation of every phrase, longest first, and the configured text of each normalised form."""
    by_form = {" ".join(word.lower().split()): word for word in words if word.strip()}
    if not by_form:
        return None, by_form
    alternatives = "|".join(_phrase(form) for form in sorted(by_form, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), by_form


_PROFANE = re.compile(
    rf"(?<!\w)(?:{'|'.join(sorted(PROFANITY, key=len, reverse=True))}){_ENDINGS}(?!\w)", re.IGNORECASE
)


def custom_matches(text: str, words: Sequence[str]) -> list[WordMatch]:
    """Each occurrence of a configured word or phrase in `text`, as configured."""
    pattern, by_form = _custom(tuple(words))
    if pattern is None:
        return []
    return [
        WordMatch(
            by_form.get(" ".join(found.group().lower().split()), found.group()), found.start(), found.end()
        )
        for found in pattern.finditer(text)
    ]


def profanity_matches(text: str) -> list[WordMatch]:
    """Each profane word in `text`, as written there (lowercased)."""
    return [WordMatch(found.group().lower(), found.start(), found.end()) for found in _PROFANE.finditer(text)]
