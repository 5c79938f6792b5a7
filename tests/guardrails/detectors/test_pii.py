"""The PII patterns: each finds its form and passes look-alikes (checksums, SSA rules, word bounds)."""

from __future__ import annotations

import pytest

from outcrop.guardrails.detectors.pii import SUPPORTED, find_entities

FOUND = [
    ("SSN 123-45-6789 on file", "US_SOCIAL_SECURITY_NUMBER", "123-45-6789"),
    ("ITIN 912-70-1234", "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "912-70-1234"),
    ("card 4111 1111 1111 1111 ok", "CREDIT_DEBIT_CARD_NUMBER", "4111 1111 1111 1111"),
    ("IBAN GB82 WEST 1234 5698 7654 32", "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "GB82 WEST 1234 5698 7654 32"),
    ("from 192.168.1.20 today", "IP_ADDRESS", "192.168.1.20"),
    ("mac 00:1A:2B:3C:4D:5E", "MAC_ADDRESS", "00:1A:2B:3C:4D:5E"),
    ("see https://example.com/a?b=1.", "URL", "https://example.com/a?b=1"),
    ("key AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"),
    (
        "secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end",
        "AWS_SECRET_KEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    ("NI number AB 12 34 56 C", "UK_NATIONAL_INSURANCE_NUMBER", "AB 12 34 56 C"),
    ("VIN 1HGCM82633A004352", "VEHICLE_IDENTIFICATION_NUMBER", "1HGCM82633A004352"),
    ("she is 34 years old", "AGE", "34"),
    ("mail bob@example.org", "EMAIL", "bob@example.org"),
]

NOT_FOUND = [
    ("order 123-45-67890 shipped", "US_SOCIAL_SECURITY_NUMBER"),
    ("code 000-12-3456", "US_SOCIAL_SECURITY_NUMBER"),
    ("card 4111 1111 1111 1112", "CREDIT_DEBIT_CARD_NUMBER"),
    ("IBAN GB82 WEST 1234 5698 7654 33", "INTERNATIONAL_BANK_ACCOUNT_NUMBER"),
    ("version 1.2.3.400", "IP_ADDRESS"),
    ("VIN 1HGCM82633A004353", "VEHICLE_IDENTIFICATION_NUMBER"),
    ("the ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn string", "AWS_SECRET_KEY"),
    ("email the team", "EMAIL"),
]


@pytest.mark.parametrize(("text", "kind", "match"), FOUND)
def test_each_pattern_finds_its_form(text: str, kind: str, match: str) -> None:
    found = find_entities(text, frozenset({kind}), None)
    assert [text[e.start : e.end] for e in found] == [match]


@pytest.mark.parametrize(("text", "kind"), NOT_FOUND)
def test_look_alikes_pass(text: str, kind: str) -> None:
    assert find_entities(text, frozenset({kind}), None) == []


def test_overlaps_resolve_across_types() -> None:
    text = "card 4111 1111 1111 1111"
    assert [e.type for e in find_entities(text, SUPPORTED, None)] == ["CREDIT_DEBIT_CARD_NUMBER"]


def test_unsupported_types_are_named() -> None:
    assert "PASSWORD" not in SUPPORTED and "ADDRESS" not in SUPPORTED and "NAME" in SUPPORTED
