"""Guardrails' PII entities: presidio (kind "pii") for what needs language (names, phone numbers) and
checked patterns for what has a fixed form (checksums where the form has one).

Only the entity types below are accepted by CreateGuardrail; each is detected by something that finds it
reliably in English text:
- presidio: NAME (spaCy's PERSON), PHONE (the phonenumbers library), and, beside the patterns here, EMAIL,
  CREDIT_DEBIT_CARD_NUMBER, INTERNATIONAL_BANK_ACCOUNT_NUMBER, IP_ADDRESS, MAC_ADDRESS and URL;
- patterns: US_SOCIAL_SECURITY_NUMBER and US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER (dashed or spaced, with
  the SSA's area/group/serial rules), AWS_ACCESS_KEY (AKIA/ASIA... ids), AWS_SECRET_KEY (40 base64
  characters mixing cases and digits), UK_NATIONAL_INSURANCE_NUMBER (HMRC's prefix rules), card numbers
  (Luhn), IBANs (mod 97), VEHICLE_IDENTIFICATION_NUMBER (the North American check digit), AGE ("34 years
  old", "aged 34").
The rest of AWS's enum (ADDRESS, PASSWORD, USERNAME, PIN, DRIVER_ID, passport, bank account and routing
numbers, CVV, expiry, licence plates, SWIFT, Canadian and UK health/tax ids) has no form a pattern can tell
from other numbers and words, and presidio's English recognisers for them score bare digits near zero:
they are refused at create time rather than accepted and never found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from outcrop.backends.nlp.protocols import PiiDetector, PiiFinding

PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "PERSON": "NAME",
    "CREDIT_CARD": "CREDIT_DEBIT_CARD_NUMBER",
    "IBAN_CODE": "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
    "IP_ADDRESS": "IP_ADDRESS",
    "MAC_ADDRESS": "MAC_ADDRESS",
    "URL": "URL",
}
PRESIDIO_MIN_SCORE = 0.4  # presidio's own floor for a phone number without context words


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and _luhn(digits)


def _iban(text: str) -> bool:
    compact = text.replace(" ", "")
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in moved)
    return 15 <= len(compact) <= 34 and int(number) % 97 == 1


_VIN_VALUES = dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9],
        strict=True,
    )
)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def _vin(text: str) -> bool:
    total = sum(
        (int(char) if char.isdigit() else _VIN_VALUES[char]) * weight
        for char, weight in zip(text, _VIN_WEIGHTS, strict=True)
    )
    check = total % 11
    return text[8] == ("X" if check == 10 else str(check)) and not text.isdigit()


def _always(text: str) -> bool:
    return True


@dataclass(frozen=True)
class Pattern:
    entity: str
    regex: re.Pattern[str]
    check: Callable[[str], bool] = _always
    group: int = 0


PATTERNS = (
    Pattern("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    Pattern(
        "US_SOCIAL_SECURITY_NUMBER",
        re.compile(r"\b(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}\b"),
    ),
    Pattern(
        "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
        re.compile(r"\b9\d{2}([- ])(?:5\d|6[0-5]|7\d|8[0-8]|9[0-24-9])\1\d{4}\b"),
    ),
    Pattern("AWS_ACCESS_KEY", re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AIPA|ANPA|ANVA|AGPA)[A-Z0-9]{16}\b")),
    Pattern(
        "AWS_SECRET_KEY",
        re.compile(
            r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))"
            r"(?=[A-Za-z0-9/+]{0,39}\d)(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[A-Z])[A-Za-z0-9/+]{40}"
        ),
    ),
    Pattern(
        "UK_NATIONAL_INSURANCE_NUMBER",
        re.compile(
            r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
        ),
    ),
    Pattern("CREDIT_DEBIT_CARD_NUMBER", re.compile(r"\b\d(?:[ -]?\d){12,18}\b"), _card),
    Pattern(
        "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
        _iban,
    ),
    Pattern(
        "IP_ADDRESS",
        re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b"),
    ),
    Pattern("MAC_ADDRESS", re.compile(r"\b[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}\b")),
    Pattern("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]")),
    Pattern("VEHICLE_IDENTIFICATION_NUMBER", re.compile(r"\b[A-HJ-NPR-Z0-9]{17}\b"), _vin),
    Pattern(
        "AGE",
        re.compile(r"\b(?:aged? (?:is )?(\d{1,3})\b|(\d{1,3})[- ]years?[- ](?:old|of age)\b)", re.IGNORECASE),
    ),
)

SUPPORTED = frozenset(PRESIDIO_TYPES.values()) | {pattern.entity for pattern in PATTERNS}
NEEDS_PRESIDIO = frozenset({"NAME", "PHONE"})  # found only by the language model


def _pattern_findings(text: str) -> Iterator[PiiFinding]:
    for pattern in PATTERNS:
        for match in pattern.regex.finditer(text):
            if pattern.entity == "AGE":  # the number is the age, not the words around it
                group = 1 if match.group(1) else 2
                yield PiiFinding("AGE", match.start(group), match.end(group), 1.0)
            elif pattern.check(match.group()):
                yield PiiFinding(pattern.entity, match.start(), match.end(), 1.0)


@dataclass(frozen=True)
class Entity:
    """One PII entity found: its AWS type and where it is."""

    type: str
    start: int
    end: int


@runtime_checkable
class ScopedPiiDetector(Protocol):
    """A PII detector that can look for some of its entity types only (presidio's `detect_types`)."""

    def detect_types(self, text: str, language: str, entities: Collection[str]) -> list[PiiFinding]: ...


def find_entities(text: str, wanted: frozenset[str], detector: PiiDetector | None) -> list[Entity]:
    """The entities of the `wanted` AWS types in `text`, in text order, overlaps resolved across all
    types (a social security number is not also reported as a phone number). A detector that can is
    asked only for the wanted types the patterns do not find (a phone number alone skips spaCy's NER)."""
    findings = list(_pattern_findings(text))
    if detector is not None:
        if isinstance(detector, ScopedPiiDetector):
            asked = {name for name, aws in PRESIDIO_TYPES.items() if aws in wanted & NEEDS_PRESIDIO}
            found = detector.detect_types(text, "en", asked)
        else:
            found = detector.detect(text, "en")
        for finding in found:
            aws = PRESIDIO_TYPES.get(finding.entity_type)
            if aws is not None and finding.score >= PRESIDIO_MIN_SCORE:
                findings.append(PiiFinding(aws, finding.start, finding.end, min(finding.score, 0.99)))
    kept: list[PiiFinding] = []
    for finding in sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        if all(finding.end <= other.start or finding.start >= other.end for other in kept):
            kept.append(finding)
    return [
        Entity(finding.entity_type, finding.start, finding.end)
        for finding in sorted(kept, key=lambda f: (f.start, f.end))
        if finding.entity_type in wanted
    ]
