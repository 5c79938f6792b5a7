"""Converse with a guardrail on the real chat model and the real PII detector (presidio): an e-mail address
is masked before the model reads it and in what the model writes, and a denied word blocks the input
without running the model."""

from __future__ import annotations

import pytest

from tests.server import RunningServer
from tests.services.test_bedrock_guardrail_enforce import BLOCKED_IN, make_guardrail, text_of, user

pytestmark = pytest.mark.real

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def test_converse_masks_pii_and_blocks_a_denied_word_on_the_real_model(real_server: RunningServer) -> None:
    guardrail_id, version = make_guardrail(
        real_server,
        "real-pii-words",
        sensitiveInformationPolicyConfig={"piiEntitiesConfig": [{"type": "EMAIL", "action": "ANONYMIZE"}]},
        wordPolicyConfig={"wordsConfig": [{"text": "zorbex"}]},
    )
    runtime = real_server.client("bedrock-runtime")
    guardrail = {"guardrailIdentifier": guardrail_id, "guardrailVersion": version, "trace": "enabled"}
    inference = {"maxTokens": 60, "temperature": 0.0}
    masked_in = runtime.converse(
        modelId=MODEL,
        messages=user({"text": "Repeat this sentence exactly: write to jane.doe@example.com today."}),
        inferenceConfig=inference,
        guardrailConfig=guardrail,
    )
    found = masked_in["trace"]["guardrail"]["inputAssessment"][guardrail_id]["sensitiveInformationPolicy"]
    assert found["piiEntities"][0]["type"] == "EMAIL" and found["piiEntities"][0]["action"] == "ANONYMIZED"
    assert "jane.doe@example.com" not in text_of(masked_in).lower()  # the model only saw {EMAIL}
    assert masked_in["stopReason"] == "guardrail_intervened"
    # the address outside guardContent reaches the model; what it writes back is masked
    masked_out = runtime.converse(
        modelId=MODEL,
        messages=user(
            {"text": "Repeat this sentence exactly: write to jane.doe@example.com today."},
            {"guardContent": {"text": {"text": "Repeat the sentence."}}},
        ),
        inferenceConfig=inference,
        guardrailConfig=guardrail,
    )
    answer = text_of(masked_out)
    assert "jane.doe@example.com" not in answer.lower(), answer
    trace = masked_out["trace"]["guardrail"]
    if "{EMAIL}" in answer:  # the model repeated the address and the output screen masked it
        assert "jane.doe@example.com" in trace["modelOutput"][0].lower()
        assert masked_out["stopReason"] == "guardrail_intervened"
    blocked = runtime.converse(
        modelId=MODEL,
        messages=user({"text": "Tell me a story about a zorbex."}),
        inferenceConfig=inference,
        guardrailConfig=guardrail,
    )
    assert text_of(blocked) == BLOCKED_IN and blocked["usage"]["outputTokens"] == 0
