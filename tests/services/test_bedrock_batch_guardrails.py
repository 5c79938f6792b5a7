"""Batch inference records that name a guardrail are screened as Converse and InvokeModel screen a call
(through boto3 on the fake models: the echo model repeats its input, so what it was given shows); a record
whose guardrail cannot be honoured gets an error in its `.out` line and is never run unscreened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.server import RunningServer
from tests.services.test_bedrock_batch import (
    TITAN_EMBED,
    claude,
    create_job,
    new_bucket,
    put_records,
    read_lines,
    wait_job,
)

BLOCKED_IN = "Batch input blocked."
BLOCKED_OUT = "Batch output blocked."
BODY = "amazon-bedrock-guardrailConfig"


@pytest.fixture(scope="module")
def guardrail(server: RunningServer) -> tuple[str, str]:
    """A denied word and an order-number regex that is anonymized, and its version 1."""
    bedrock = server.client("bedrock")
    made = bedrock.create_guardrail(
        name="batch-words",
        blockedInputMessaging=BLOCKED_IN,
        blockedOutputsMessaging=BLOCKED_OUT,
        wordPolicyConfig={"wordsConfig": [{"text": "zorbex"}]},
        sensitiveInformationPolicyConfig={
            "regexesConfig": [{"name": "order", "pattern": "ORD-[0-9]{4}", "action": "ANONYMIZE"}]
        },
    )
    version = bedrock.create_guardrail_version(guardrailIdentifier=made["guardrailId"])["version"]
    return made["guardrailId"], version


def by_id(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["recordId"]: line for line in lines}


def converse_input(*blocks: dict[str, Any], **guard: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"messages": [{"role": "user", "content": list(blocks)}]}
    if guard:
        found["guardrailConfig"] = guard
    return found


def text_of(output: dict[str, Any]) -> str:
    return "".join(block.get("text", "") for block in output["output"]["message"]["content"])


def test_converse_records_are_screened_by_their_guardrail_config(
    client: Callable[..., Any], guardrail: tuple[str, str]
) -> None:
    s3, bedrock = client("s3"), client("bedrock")
    bucket = new_bucket(s3)
    named = {"guardrailIdentifier": guardrail[0], "guardrailVersion": guardrail[1]}
    records = [
        {
            "recordId": "BLOCKEDIN01",
            "modelInput": converse_input({"text": "about zorbex"}, **named, trace="enabled"),
        },
        {"recordId": "CLEAN000001", "modelInput": converse_input({"text": "hello there"}, **named)},
        {
            "recordId": "BLOCKEDOUT1",  # only the guardContent block is screened on input; the echo repeats
            "modelInput": converse_input(
                {"text": "repeat zorbex"}, {"guardContent": {"text": {"text": "be kind"}}}, **named
            ),
        },
        {"recordId": "MASKED00001", "modelInput": converse_input({"text": "where is ORD-1234"}, **named)},
        {"recordId": "UNGUARDED01", "modelInput": converse_input({"text": "zorbex unguarded"})},
        {
            "recordId": "UNKNOWN0001",
            "modelInput": converse_input(
                {"text": "hi"}, guardrailIdentifier="abcdefabcdef", guardrailVersion="1"
            ),
        },
        {
            "recordId": "BADVERSION1",
            "modelInput": converse_input({"text": "hi"}, **{**named, "guardrailVersion": "v1"}),
        },
        {
            "recordId": "EMPTYCONFIG",
            "modelInput": {**converse_input({"text": "zorbex"}), "guardrailConfig": {}},
        },
        {"recordId": "BADTRACE001", "modelInput": converse_input({"text": "zorbex"}, **named, trace="loud")},
    ]
    put_records(s3, bucket, "in.jsonl", records)
    arn = create_job(
        bedrock, f"s3://{bucket}/in.jsonl", f"s3://{bucket}/out/", modelInvocationType="Converse"
    )
    job = wait_job(bedrock, arn)
    assert job["status"] == "PartiallyCompleted", job.get("message")
    assert (job["successRecordCount"], job["errorRecordCount"]) == (5, 4)
    lines = by_id(read_lines(s3, bucket, f"out/{arn.rpartition('/')[2]}/in.jsonl.out"))

    blocked = lines["BLOCKEDIN01"]["modelOutput"]
    assert blocked["stopReason"] == "guardrail_intervened" and text_of(blocked) == BLOCKED_IN
    assert blocked["usage"]["outputTokens"] == 0  # the model never ran
    words = blocked["trace"]["guardrail"]["inputAssessment"][guardrail[0]]["wordPolicy"]["customWords"]
    assert words[0]["match"] == "zorbex" and words[0]["action"] == "BLOCKED"

    clean = lines["CLEAN000001"]["modelOutput"]
    assert clean["stopReason"] == "end_turn" and text_of(clean) == "You said: hello there"
    assert "trace" not in clean

    out = lines["BLOCKEDOUT1"]["modelOutput"]
    assert out["stopReason"] == "guardrail_intervened" and text_of(out) == BLOCKED_OUT
    assert out["usage"]["outputTokens"] > 0

    masked = lines["MASKED00001"]["modelOutput"]
    assert text_of(masked) == "You said: where is {order}"  # the model read the masked input
    assert "ORD-1234" not in text_of(masked)

    assert "zorbex" in text_of(lines["UNGUARDED01"]["modelOutput"])  # no guardrail named: none applied

    for record, code in (
        ("UNKNOWN0001", 404),
        ("BADVERSION1", 400),
        ("EMPTYCONFIG", 400),
        ("BADTRACE001", 400),
    ):
        line = lines[record]
        assert "modelOutput" not in line, record
        assert line["error"]["errorCode"] == code, (record, line["error"])
    assert "does not exist" in lines["UNKNOWN0001"]["error"]["errorMessage"]
    assert "guardrailIdentifier" in lines["EMPTYCONFIG"]["error"]["errorMessage"]


def test_native_records_name_their_guardrail_in_the_body_config(
    client: Callable[..., Any], guardrail: tuple[str, str]
) -> None:
    s3, bedrock = client("s3"), client("bedrock")
    bucket = new_bucket(s3)
    named = {"guardrailIdentifier": guardrail[0], "guardrailVersion": guardrail[1]}
    tag = "amazon-bedrock-guardrails-guardContent_xyz"
    records = [
        {
            "recordId": "NBLOCKED001",
            "modelInput": {**claude("zorbex please"), BODY: {**named, "trace": "ENABLED"}},
        },
        {"recordId": "NCLEAN00001", "modelInput": {**claude("hello"), BODY: named}},
        {
            "recordId": "NTAGGED0001",  # only the tagged span is screened on input, and the tags are removed
            "modelInput": {
                **claude(f"<{tag}>hello</{tag}> friend"),
                BODY: {**named, "tagSuffix": "xyz"},
            },
        },
        {"recordId": "NMASKED0001", "modelInput": {**claude("ship ORD-9876"), BODY: named}},
        {"recordId": "NNONAME0001", "modelInput": {**claude("zorbex"), BODY: {"tagSuffix": "xyz"}}},
        {"recordId": "NUNKNOWN001", "modelInput": {**claude("zorbex"), BODY: {**named, "colour": "red"}}},
        {"recordId": "NNOTOBJECT1", "modelInput": {**claude("zorbex"), BODY: "on"}},
    ]
    put_records(s3, bucket, "native.jsonl", records)
    arn = create_job(bedrock, f"s3://{bucket}/native.jsonl", f"s3://{bucket}/")
    job = wait_job(bedrock, arn)
    assert (job["successRecordCount"], job["errorRecordCount"]) == (4, 3), job
    lines = by_id(read_lines(s3, bucket, f"{arn.rpartition('/')[2]}/native.jsonl.out"))

    blocked = lines["NBLOCKED001"]["modelOutput"]
    assert blocked["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert blocked["content"][0]["text"] == BLOCKED_IN
    trace = blocked["amazon-bedrock-trace"]["guardrail"]["input"][guardrail[0]]
    assert trace["wordPolicy"]["customWords"][0]["match"] == "zorbex"

    clean = lines["NCLEAN00001"]["modelOutput"]
    assert clean["amazon-bedrock-guardrailAction"] == "NONE" and "amazon-bedrock-trace" not in clean
    assert clean["content"][0]["text"] == "You said: hello"
    assert lines["NTAGGED0001"]["modelOutput"]["content"][0]["text"] == "You said: hello friend"
    assert lines["NMASKED0001"]["modelOutput"]["content"][0]["text"] == "You said: ship {order}"

    for record in ("NNONAME0001", "NUNKNOWN001", "NNOTOBJECT1"):
        assert "modelOutput" not in lines[record] and lines[record]["error"]["errorCode"] == 400, record
    assert "guardrailIdentifier" in lines["NNONAME0001"]["error"]["errorMessage"]
    assert "colour" in lines["NUNKNOWN001"]["error"]["errorMessage"]


def test_embedding_records_naming_a_guardrail_are_not_embedded(
    client: Callable[..., Any], guardrail: tuple[str, str]
) -> None:
    s3, bedrock = client("s3"), client("bedrock")
    bucket = new_bucket(s3)
    named = {"guardrailIdentifier": guardrail[0], "guardrailVersion": guardrail[1]}
    records = [
        {"recordId": "EGUARDED001", "modelInput": {"inputText": "zorbex", BODY: named}},
        {"recordId": "EPLAIN00001", "modelInput": {"inputText": "rivers and lakes"}},
    ]
    put_records(s3, bucket, "embed.jsonl", records)
    arn = create_job(bedrock, f"s3://{bucket}/embed.jsonl", f"s3://{bucket}/", model=TITAN_EMBED)
    job = wait_job(bedrock, arn)
    assert job["status"] == "PartiallyCompleted"
    lines = by_id(read_lines(s3, bucket, f"{arn.rpartition('/')[2]}/embed.jsonl.out"))
    assert "embedding" in lines["EPLAIN00001"]["modelOutput"]
    refused = lines["EGUARDED001"]
    assert "modelOutput" not in refused and "text generation" in refused["error"]["errorMessage"]
