"""Custom regexes: Java-style properties read as AWS reads them, and a pattern that backtracks
catastrophically is stopped at the time limit and answered as a ValidationException naming it (never left
running, never passed on unscreened), through boto3 on the fake models."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from outcrop.guardrails.detectors.regexes import RegexTooSlow, find_matches

MESSAGES = {"blockedInputMessaging": "Input blocked.", "blockedOutputsMessaging": "Output blocked."}
SLOW = "a" * 100 + "!"  # (a|aa)+$ tries every split of the a's before failing at "!"


def test_a_catastrophic_pattern_stops_at_the_time_limit() -> None:
    with pytest.raises(RegexTooSlow, match=r"regex nested did not finish"):
        find_matches(SLOW, "nested", r"(a|aa)+$")
    assert [hit.match for hit in find_matches("Ward B and ward c", "ward", r"\p{Lu}\p{Ll}+ \p{Lu}\b")] == [
        "Ward B"
    ]


def test_apply_guardrail_refuses_a_text_its_regex_cannot_finish(client: Callable[..., Any]) -> None:
    regexes = [
        {"name": "ticket", "pattern": r"TCK-\d{4}", "action": "ANONYMIZE"},
        {"name": "runaway", "pattern": r"(a|aa)+$", "action": "BLOCK"},
    ]
    made = client("bedrock").create_guardrail(
        name="gr-" + uuid.uuid4().hex[:10],
        **MESSAGES,
        sensitiveInformationPolicyConfig={"regexesConfig": regexes},
    )
    runtime = client("bedrock-runtime")
    ids = {"guardrailIdentifier": made["guardrailId"], "guardrailVersion": "DRAFT"}
    fine = runtime.apply_guardrail(**ids, source="INPUT", content=[{"text": {"text": "See TCK-1234, aaa."}}])
    assert fine["outputs"] == [{"text": "See {ticket}, aaa."}]
    with pytest.raises(ClientError) as caught:
        runtime.apply_guardrail(**ids, source="INPUT", content=[{"text": {"text": SLOW}}])
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException" and "regex runaway did not finish" in error["Message"]
    again = runtime.apply_guardrail(**ids, source="INPUT", content=[{"text": {"text": "TCK-9876"}}])
    assert again["outputs"] == [{"text": "{ticket}"}]  # the server is still answering
