"""DetectPiiEntities on a bank letter shaped like AWS's own example (a card number, masked account and
routing numbers, a whole street address), through boto3 on the packaged models."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server import RunningServer

pytestmark = pytest.mark.real

LETTER = (
    "Hello Maria Lopez. The balance of your credit card account\n2222-0000-2222-0000 is $81.20, "
    "due by March 3rd.\n"
    "We will take it from your bank account XXXXXXX4321 with the routing number XXXXX1234.\n\n"
    "Your statement went to 42 Elm Avenue, Springfield, OR 97477. Questions? Call 503-555-0143 or write to "
    "help@example.com."
)


@pytest.fixture(scope="module")
def comprehend(real_server: RunningServer) -> Any:
    return real_server.client("comprehend")


def _found(text: str, entities: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(item["Type"], text[item["BeginOffset"] : item["EndOffset"]]) for item in entities}


def test_a_bank_letter_gets_the_types_aws_gives_its_own_example(comprehend: Any) -> None:
    entities = comprehend.detect_pii_entities(Text=LETTER, LanguageCode="en")["Entities"]
    found = _found(LETTER, entities)
    assert {
        ("NAME", "Maria Lopez"),
        ("CREDIT_DEBIT_NUMBER", "2222-0000-2222-0000"),
        ("BANK_ACCOUNT_NUMBER", "XXXXXXX4321"),
        ("BANK_ROUTING", "XXXXX1234"),
        ("ADDRESS", "42 Elm Avenue, Springfield, OR 97477"),
        ("PHONE", "503-555-0143"),
        ("EMAIL", "help@example.com"),
    } <= found
    # the card number is not also (or instead) a date, and the town is not an address of its own
    assert ("DATE_TIME", "2222-0000-2222-0000") not in found
    assert ("ADDRESS", "Springfield") not in found
    labels = {
        label["Name"] for label in comprehend.contains_pii_entities(Text=LETTER, LanguageCode="en")["Labels"]
    }
    assert {"CREDIT_DEBIT_NUMBER", "BANK_ACCOUNT_NUMBER", "BANK_ROUTING", "ADDRESS"} <= labels


def test_values_named_by_the_words_before_them_get_their_types(comprehend: Any) -> None:
    text = (
        "Card 4000 1234 5678 9010, exp 11/29, CVV 987. My PIN is 7351, the password is Tr0ub4dor and the "
        "username is kim_lee. Key AKIAABCDEFGHIJKLMNOP. SWIFT code BOFAUS3N."
    )
    found = _found(text, comprehend.detect_pii_entities(Text=text, LanguageCode="en")["Entities"])
    assert {
        ("CREDIT_DEBIT_NUMBER", "4000 1234 5678 9010"),
        ("CREDIT_DEBIT_EXPIRY", "11/29"),
        ("CREDIT_DEBIT_CVV", "987"),
        ("PIN", "7351"),
        ("PASSWORD", "Tr0ub4dor"),
        ("USERNAME", "kim_lee"),
        ("AWS_ACCESS_KEY", "AKIAABCDEFGHIJKLMNOP"),
        ("SWIFT_CODE", "BOFAUS3N"),
    } <= found


def test_plain_words_after_the_naming_words_are_not_personal_data(comprehend: Any) -> None:
    text = "The login page was slow, the account was opened in 2019 and he used his debit card 3 times."
    found = _found(text, comprehend.detect_pii_entities(Text=text, LanguageCode="en")["Entities"])
    assert not {kind for kind, _ in found} & {"USERNAME", "BANK_ACCOUNT_NUMBER", "CREDIT_DEBIT_NUMBER", "PIN"}


def test_the_bank_letter_is_neutral(comprehend: Any) -> None:
    # "credit" of "credit card account" is no praise (VADER's lexicon alone called the letter POSITIVE)
    assert comprehend.detect_sentiment(Text=LETTER, LanguageCode="en")["Sentiment"] == "NEUTRAL"
