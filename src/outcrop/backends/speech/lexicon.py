"""W3C Pronunciation Lexicon Specification (PLS 1.0) documents: parsing, and applying their aliases to text.

A lexeme's `<alias>` replaces its graphemes with other words before synthesis (say "W3C" as "World Wide Web
Consortium"). A `<phoneme>` is kept and reported but not spoken: neither speech program takes IPA input.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass
from xml.etree import ElementTree

PLS_NAMESPACE = "http://www.w3.org/2005/01/pronunciation-lexicon"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ALPHABETS = ("ipa", "x-sampa")


class LexiconError(ValueError):
    """The document is not a valid PLS lexicon; `kind` says which rule it broke."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind  # "invalid", "alphabet", "language", "lexeme-length"


@dataclass(frozen=True)
class Lexeme:
    graphemes: tuple[str, ...]
    alias: str | None
    phoneme: str | None


@dataclass(frozen=True)
class Lexicon:
    alphabet: str
    language: str
    lexemes: tuple[Lexeme, ...]

    def aliases(self) -> dict[str, str]:
        return {g: x.alias for x in self.lexemes if x.alias for g in x.graphemes}


def parse_lexicon(content: str, *, max_lexeme_chars: int = 100) -> Lexicon:
    if "<!DOCTYPE" in content or "<!ENTITY" in content:
        raise LexiconError("document type declarations are not allowed in a lexicon")
    try:
        root = ElementTree.fromstring(content)
    except (ElementTree.ParseError, xml.parsers.expat.ExpatError) as error:
        raise LexiconError(f"the lexicon is not well-formed XML: {error}") from None
    if root.tag != f"{{{PLS_NAMESPACE}}}lexicon":
        raise LexiconError(f"the root element must be <lexicon> in the namespace {PLS_NAMESPACE}")
    alphabet = root.get("alphabet", "")
    if alphabet not in ALPHABETS:
        raise LexiconError(f"alphabet {alphabet!r} is not supported; use ipa or x-sampa", "alphabet")
    language = root.get(XML_LANG, "")
    if not language:
        raise LexiconError("the lexicon has no xml:lang attribute", "language")
    lexemes = []
    for element in root.findall(f"{{{PLS_NAMESPACE}}}lexeme"):
        graphemes = tuple(
            (g.text or "").strip()
            for g in element.findall(f"{{{PLS_NAMESPACE}}}grapheme")
            if (g.text or "").strip()
        )
        alias = element.findtext(f"{{{PLS_NAMESPACE}}}alias")
        phoneme = element.findtext(f"{{{PLS_NAMESPACE}}}phoneme")
        if not graphemes or (alias is None and phoneme is None):
            raise LexiconError("every lexeme needs a grapheme and an alias or a phoneme")
        for text in (*graphemes, alias or "", phoneme or ""):
            if len(text) > max_lexeme_chars:
                raise LexiconError(
                    f"lexeme {text[:20]!r}… is over {max_lexeme_chars} characters", "lexeme-length"
                )
        lexemes.append(
            Lexeme(graphemes, alias.strip() if alias else None, phoneme.strip() if phoneme else None)
        )
    return Lexicon(alphabet, language, tuple(lexemes))


def alias_spans(text: str, aliases: dict[str, str]) -> list[tuple[int, int, str]]:
    """(start, end, alias) of each whole-word, case-sensitive match in `text`, longest grapheme first."""
    if not aliases:
        return []
    alternatives = "|".join(re.escape(g) for g in sorted(aliases, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
    return [(m.start(), m.end(), aliases[m.group(0)]) for m in pattern.finditer(text)]
