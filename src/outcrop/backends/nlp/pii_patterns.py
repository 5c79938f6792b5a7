"""Personal data that presidio's English recognisers miss, found by the words that name it.

Presidio checks a card number's Luhn digit and a bank number's length, so a card number written for an
example or masked ("1111-0000-1111-0000", "1111-XXXX-1111-XXXX") is left to spaCy, which calls it a date;
a masked account or routing number ("XXXXXX1111") is found by nothing; and spaCy marks only the town of
a street address. The finders here look for a value right after the words a writer puts before it ("card",
"routing number", "PIN", "password"), and for US street addresses by their shape (a house number, a
street name ending in a street word, then the town, state and ZIP when given). A value named this way is
what its words say it is, so its score is high (0.9) and it wins over an overlapping guess.

`find` answers presidio-style entity names; the service maps them to its own.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from outcrop.backends.nlp.protocols import PiiFinding

KEYED_SCORE = 0.9  # a value right after the words that name it
SHAPE_SCORE = 0.9  # a value whose shape alone says what it is (an AWS access key id, a street address)

# Words allowed between the naming words and the value: "card account", "number is", "no.", "ending in".
_FILLER = r"(?:[\s:#.=-]*\b(?:account|number|num|no|nr|is|ending|in|code|was|of|on|file)\b)*[\s:#.=-]*"


@dataclass(frozen=True)
class _Keyed:
    entity: str
    words: str  # regex alternatives, matched case-insensitively as whole words
    value: str  # regex of the value itself (case as written)
    linked: bool = False  # a free-form value: only after "is", "was", ":" or "=" ("the login page" is none)

    def pattern(self) -> re.Pattern[str]:
        link = r"(?:\s*[:=]\s*|\s+(?i:is|was)\s+)" if self.linked else _FILLER
        return re.compile(rf"(?i:\b(?:{self.words})\b){link}(?P<value>{self.value})")


_MASKED_CARD = r"(?:[\dX*]{4}[ -]){3}[\dX*]{1,7}(?![\w-])|\d{4}[ -]\d{6}[ -]\d{5}(?![\w-])|\d{13,19}(?![\w-])"
_KEYED = (
    _Keyed(
        "CARD_NUMBER",
        r"card|credit|debit|visa|mastercard|amex|american express|discover|maestro",
        _MASKED_CARD,
    ),
    _Keyed(
        "CARD_CVV", r"cvv2?|cvc2?|cid|security code|card verification(?: value| code)?", r"\d{3,4}(?![\w-])"
    ),
    _Keyed(
        "CARD_EXPIRY",
        r"exp|expiry|expires|expiration(?: date)?|valid (?:thru|through|until)",
        r"(?:0?[1-9]|1[0-2])\s*[/-]\s*(?:\d{4}|\d{2})(?![\w/-])",
    ),
    _Keyed(
        "BANK_ACCOUNT",
        r"bank account|account|acct|checking|savings",
        r"(?=[X*\d]{6,17}(?![\w-]))[X*]*\d{2,17}",
    ),
    _Keyed("BANK_ROUTING", r"routing|aba|rtn|transit", r"(?=[X*\d]{9}(?![\w-]))[X*]*\d{2,9}"),
    _Keyed("PIN", r"pin|pin code|passcode", r"\d{4,8}(?![\w-])"),
    _Keyed("PASSWORD", r"password|passwd|pwd|passphrase", r"[^\s'\"]*[^\s'\".,;:!?)]", linked=True),
    _Keyed("USERNAME", r"username|user name|user id|userid|login|handle", r"@?[\w][\w.@-]*[\w]", linked=True),
    _Keyed(
        "AWS_SECRET_KEY",
        r"aws_secret_access_key|secret access key|secret key|secret",
        r"[A-Za-z0-9/+]{40}(?![\w/+=])",
    ),
    _Keyed("SWIFT_CODE", r"swift|bic", r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b"),
)
_KEYED_PATTERNS = tuple((keyed.entity, keyed.pattern()) for keyed in _KEYED)

_STREET_WORDS = (
    "street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|ter|"
    "parkway|pkwy|highway|hwy|circle|cir|square|sq|trail|trl|alley|plaza"
)
_STATE = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|"
    "NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_NAME = r"[A-Z][\w'-]*"
_STREET_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?\s+(?:(?:[NSEW]|North|South|East|West)\.?\s+)?(?:{_NAME}\s+){{0,3}}{_NAME}\s+"
    rf"(?i:{_STREET_WORDS})\b\.?(?:\s+(?:[NS][EW]?|[EW])\b\.?)?"
    rf"(?:,?\s+(?i:apt|apartment|suite|ste|unit|#)\.?\s*#?[\w-]+)?"
    rf"(?:,\s*{_NAME}(?:\s+{_NAME}){{0,2}})?"
    rf"(?:,?\s+(?:{_STATE})\b)?"
    rf"(?:,?\s+\d{{5}}(?:-\d{{4}})?\b)?"
)
_AWS_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[0-9A-Z]{16}\b")

ENTITIES = frozenset({keyed.entity for keyed in _KEYED} | {"STREET_ADDRESS", "AWS_ACCESS_KEY"})


def find(text: str, entities: Collection[str] | None = None) -> list[PiiFinding]:
    """The findings of every finder here (or of `entities` only), overlaps not yet resolved."""
    wanted = ENTITIES if entities is None else ENTITIES & set(entities)
    found: list[PiiFinding] = []
    for entity, pattern in _KEYED_PATTERNS:
        if entity in wanted:
            for match in pattern.finditer(text):
                start, end = match.span("value")
                if entity != "CARD_NUMBER" or sum(c.isdigit() for c in match["value"]) >= 4:
                    found.append(PiiFinding(entity, start, end, KEYED_SCORE))
    if "STREET_ADDRESS" in wanted:
        found += [
            PiiFinding("STREET_ADDRESS", m.start(), m.end(), SHAPE_SCORE)
            for m in _STREET_ADDRESS.finditer(text)
        ]
    if "AWS_ACCESS_KEY" in wanted:
        found += [
            PiiFinding("AWS_ACCESS_KEY", m.start(), m.end(), SHAPE_SCORE)
            for m in _AWS_ACCESS_KEY.finditer(text)
        ]
    return found


def is_date_shaped(text: str) -> bool:
    """Whether a span spaCy called a date could be one: a run of digits and separators holding more than
    eight digits (a card or account number) is not, whatever its grouping."""
    digits = sum(c.isdigit() for c in text)
    return not (digits > 8 and all(c.isdigit() or c in " -./" for c in text))
