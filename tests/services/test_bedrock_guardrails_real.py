"""ApplyGuardrail on the real detectors: presidio for PII, the evidence grounding detector with the
all-MiniLM embedder for contextual grounding, and denied topics on all-MiniLM (marked `real`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.server import RunningServer

MESSAGES = {"blockedInputMessaging": "Input blocked.", "blockedOutputsMessaging": "Output blocked."}


def guardrail(server: RunningServer, **policies: Any) -> str:
    made = server.client("bedrock").create_guardrail(
        name="gr-" + uuid.uuid4().hex[:10], **MESSAGES, **policies
    )
    return str(made["guardrailId"])


def apply(
    server: RunningServer, gid: str, *texts: str | tuple[str, list[str]], source: str = "INPUT"
) -> dict[str, Any]:
    content = [
        {"text": {"text": t}} if isinstance(t, str) else {"text": {"text": t[0], "qualifiers": t[1]}}
        for t in texts
    ]
    found: dict[str, Any] = server.client("bedrock-runtime").apply_guardrail(
        guardrailIdentifier=gid, guardrailVersion="DRAFT", source=source, content=content
    )
    return found


@pytest.mark.real
def test_presidio_anonymizes_names_phones_and_emails(real_server: RunningServer) -> None:
    entities = [
        {"type": kind, "action": "ANONYMIZE"}
        for kind in ("NAME", "PHONE", "EMAIL", "US_SOCIAL_SECURITY_NUMBER")
    ]
    gid = guardrail(real_server, sensitiveInformationPolicyConfig={"piiEntitiesConfig": entities})
    found = apply(
        real_server, gid, "Call John Smith at 212-555-0187 or john.smith@example.com about 123-45-6789."
    )
    assert found["outputs"] == [
        {"text": "Call {NAME} at {PHONE} or {EMAIL} about {US_SOCIAL_SECURITY_NUMBER}."}
    ]
    assert apply(real_server, gid, "Please email the team about the stock room.")["action"] == "NONE"


@pytest.mark.real
def test_real_grounding_blocks_an_invented_fact(real_server: RunningServer) -> None:
    filters = [{"type": "GROUNDING", "threshold": 0.6}, {"type": "RELEVANCE", "threshold": 0.4}]
    gid = guardrail(real_server, contextualGroundingPolicyConfig={"filtersConfig": filters})
    source = ("The Orion Lodge opened in 1998 in Bergen. It has 42 rooms and a sauna.", ["grounding_source"])
    query = ("How many rooms does the Orion Lodge have?", ["query"])
    good = apply(
        real_server, gid, source, query, ("The lodge has 42 rooms.", ["guard_content"]), source="OUTPUT"
    )
    bad = apply(
        real_server,
        gid,
        source,
        query,
        ("The lodge has 97 rooms and a pool.", ["guard_content"]),
        source="OUTPUT",
    )
    assert good["action"] == "NONE", good["assessments"]
    assert bad["action"] == "GUARDRAIL_INTERVENED" and bad["outputs"] == [{"text": "Output blocked."}]


@pytest.mark.real
def test_real_denied_topic_spares_look_alikes(real_server: RunningServer) -> None:
    topic = {
        "name": "Investment advice",
        "definition": "Recommendations about which stocks, funds or other financial assets to buy or sell.",
        "examples": ["Should I buy Tesla shares?", "Which ETF is best for retirement?"],
        "type": "DENY",
    }
    gid = guardrail(real_server, topicPolicyConfig={"topicsConfig": [topic]})
    blocked = apply(real_server, gid, "Is it a good time to buy Apple stock for my retirement?")
    assert blocked["action"] == "GUARDRAIL_INTERVENED"
    assert blocked["assessments"][0]["topicPolicy"]["topics"][0]["name"] == "Investment advice"
    assert apply(real_server, gid, "The stock room needs more shelves before Monday.")["action"] == "NONE"
