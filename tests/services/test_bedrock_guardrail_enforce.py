"""Guardrails enforced on Bedrock Runtime's model calls, through boto3 on the fake models: Converse and
ConverseStream (guardContent, trace, sync and async streams), InvokeModel and its stream (headers, tag
suffix, the answer's guardrail fields), ApplyGuardrail, and the refusals (unknown guardrail, bad version)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
BLOCKED_IN = "Your question broke the house rules."
BLOCKED_OUT = "The answer broke the house rules."


def make_guardrail(server: RunningServer, name: str, **policies: Any) -> tuple[str, str]:
    """A guardrail (and its version 1) through the control plane, as users make one."""
    bedrock = server.client("bedrock")
    made = bedrock.create_guardrail(
        name=name, blockedInputMessaging=BLOCKED_IN, blockedOutputsMessaging=BLOCKED_OUT, **policies
    )
    version = bedrock.create_guardrail_version(guardrailIdentifier=made["guardrailId"])["version"]
    return made["guardrailId"], version


WORDS = {"wordPolicyConfig": {"wordsConfig": [{"text": "zorbex"}]}}
ORDERS = {
    "sensitiveInformationPolicyConfig": {
        "regexesConfig": [{"name": "order", "pattern": "ORD-[0-9]{4}", "action": "ANONYMIZE"}]
    }
}


@pytest.fixture(scope="module")
def words(server: RunningServer) -> tuple[str, str]:
    return make_guardrail(server, "words", **WORDS)


@pytest.fixture(scope="module")
def orders(server: RunningServer) -> tuple[str, str]:
    return make_guardrail(server, "orders", **ORDERS)


def config(guardrail: tuple[str, str], **extra: str) -> dict[str, str]:
    return {"guardrailIdentifier": guardrail[0], "guardrailVersion": guardrail[1], **extra}


def user(*blocks: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(blocks)}]


def text_of(response: dict[str, Any]) -> str:
    return "".join(block.get("text", "") for block in response["output"]["message"]["content"])


def test_converse_blocks_a_denied_word_in_the_input_without_running_the_model(
    server: RunningServer, words: tuple[str, str]
) -> None:
    runtime = server.client("bedrock-runtime")
    response = runtime.converse(
        modelId=MODEL,
        messages=user({"text": "tell me about zorbex"}),
        guardrailConfig=config(words, trace="enabled"),
    )
    assert response["stopReason"] == "guardrail_intervened"
    assert text_of(response) == BLOCKED_IN
    assert response["usage"] == {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}
    trace = response["trace"]["guardrail"]
    assessment = trace["inputAssessment"][words[0]]
    assert assessment["wordPolicy"]["customWords"][0]["match"] == "zorbex"
    assert assessment["wordPolicy"]["customWords"][0]["action"] == "BLOCKED"
    assert "outputAssessments" not in trace
    # without trace, the same answer carries none
    plain = runtime.converse(
        modelId=MODEL, messages=user({"text": "zorbex again"}), guardrailConfig=config(words)
    )
    assert plain["stopReason"] == "guardrail_intervened" and "trace" not in plain


def test_converse_screens_only_guard_content_and_blocks_the_output(
    server: RunningServer, words: tuple[str, str]
) -> None:
    runtime = server.client("bedrock-runtime")
    # the denied word is outside guardContent: the input passes, the echo repeats it, the output is blocked
    response = runtime.converse(
        modelId=MODEL,
        messages=user({"text": "repeat zorbex"}, {"guardContent": {"text": {"text": "be kind"}}}),
        guardrailConfig=config(words, trace="enabled"),
    )
    assert response["stopReason"] == "guardrail_intervened"
    assert text_of(response) == BLOCKED_OUT
    trace = response["trace"]["guardrail"]
    assert "zorbex" in trace["modelOutput"][0]
    assert trace["inputAssessment"][words[0]].get("wordPolicy") is None
    outputs = trace["outputAssessments"][words[0]]
    assert outputs[0]["wordPolicy"]["customWords"][0]["match"] == "zorbex"
    assert response["usage"]["outputTokens"] > 0  # the model ran and was metered
    # a clean exchange passes untouched
    clean = runtime.converse(
        modelId=MODEL, messages=user({"text": "hello there"}), guardrailConfig=config(words)
    )
    assert clean["stopReason"] == "end_turn" and text_of(clean) == "You said: hello there"


def test_converse_masks_an_anonymized_input_before_the_model_reads_it(
    server: RunningServer, orders: tuple[str, str]
) -> None:
    runtime = server.client("bedrock-runtime")
    response = runtime.converse(
        modelId=MODEL,
        messages=user({"text": "where is ORD-1234 now"}),
        guardrailConfig=config(orders, trace="enabled"),
    )
    assert text_of(response) == "You said: where is {order} now"  # the model echoed what it was given
    assert response["stopReason"] == "guardrail_intervened"
    regexes = response["trace"]["guardrail"]["inputAssessment"][orders[0]]["sensitiveInformationPolicy"]
    assert regexes["regexes"][0]["match"] == "ORD-1234" and regexes["regexes"][0]["action"] == "ANONYMIZED"


def stream_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    return list(response["stream"])


def test_converse_stream_sync_and_async(
    server: RunningServer, words: tuple[str, str], orders: tuple[str, str]
) -> None:
    runtime = server.client("bedrock-runtime")
    sentence = "This sentence is harmless and long enough to be screened in a batch of its own. "
    messages = user(
        {"text": sentence * 3 + "Then zorbex appears."}, {"guardContent": {"text": {"text": "hi"}}}
    )
    for mode in ("sync", "async"):
        events = stream_events(
            runtime.converse_stream(
                modelId=MODEL,
                messages=messages,
                inferenceConfig={"maxTokens": 200},
                guardrailConfig=config(words, trace="enabled", streamProcessingMode=mode),
            )
        )
        texts = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
        stop = next(e["messageStop"] for e in events if "messageStop" in e)
        metadata = next(e["metadata"] for e in events if "metadata" in e)
        assert stop["stopReason"] == "guardrail_intervened", mode
        assert texts[-1] == BLOCKED_OUT, mode
        shown = "".join(texts[:-1])
        assert shown.startswith("You said: This sentence"), mode
        # sync held each batch until it was screened; async sent the words before the screen caught them
        assert ("zorbex" in shown) == (mode == "async"), mode
        assessments = metadata["trace"]["guardrail"]["outputAssessments"][words[0]]
        assert len(assessments) >= 2, mode  # one per screened batch
    # AWS does not mask in asynchronous mode: a masking guardrail is refused there
    with pytest.raises(ClientError) as refused:
        runtime.converse_stream(
            modelId=MODEL,
            messages=user({"text": "ORD-1234"}),
            guardrailConfig=config(orders, streamProcessingMode="async"),
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "asynchronous" in refused.value.response["Error"]["Message"]
    # a blocked input streams the blocked message alone
    events = stream_events(
        runtime.converse_stream(
            modelId=MODEL, messages=user({"text": "zorbex"}), guardrailConfig=config(words)
        )
    )
    texts = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert texts == [BLOCKED_IN]


ANTHROPIC = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100}


def anthropic_body(prompt: str, **extra: Any) -> str:
    return json.dumps({**ANTHROPIC, "messages": [{"role": "user", "content": prompt}], **extra})


def test_invoke_model_headers_tags_and_answer_fields(server: RunningServer, words: tuple[str, str]) -> None:
    runtime = server.client("bedrock-runtime")
    headers = {"guardrailIdentifier": words[0], "guardrailVersion": words[1]}
    blocked = json.loads(
        runtime.invoke_model(modelId=MODEL, body=anthropic_body("zorbex please"), trace="ENABLED", **headers)[
            "body"
        ].read()
    )
    assert blocked["amazon-bedrock-guardrailAction"] == "INTERVENED"
    assert blocked["content"][0]["text"] == BLOCKED_IN
    assessment = blocked["amazon-bedrock-trace"]["guardrail"]["input"][words[0]]
    assert assessment["wordPolicy"]["customWords"][0]["match"] == "zorbex"
    clean = json.loads(
        runtime.invoke_model(modelId=MODEL, body=anthropic_body("hello"), **headers)["body"].read()
    )
    assert clean["amazon-bedrock-guardrailAction"] == "NONE" and "amazon-bedrock-trace" not in clean
    # with a tag suffix only the tagged text is screened (the tags never reach the model)
    tag = "amazon-bedrock-guardrails-guardContent_abc"
    prompt = f"say zorbex and <{tag}>be kind</{tag}>"
    body = anthropic_body(prompt, **{"amazon-bedrock-guardrailConfig": {"tagSuffix": "abc"}})
    tagged = json.loads(
        runtime.invoke_model(modelId=MODEL, body=body, trace="ENABLED", **headers)["body"].read()
    )
    trace = tagged["amazon-bedrock-trace"]["guardrail"]
    assert "wordPolicy" not in trace["input"][words[0]]  # the tagged part was clean
    assert tagged["content"][0]["text"] == BLOCKED_OUT  # the echo repeated the untagged word
    assert json.loads(trace["modelOutput"][0])["content"][0]["text"] == "You said: say zorbex and be kind"
    body = anthropic_body(
        f"<{tag}>hello</{tag}> friend", **{"amazon-bedrock-guardrailConfig": {"tagSuffix": "abc"}}
    )
    kind = json.loads(runtime.invoke_model(modelId=MODEL, body=body, **headers)["body"].read())
    assert kind["content"][0]["text"] == "You said: hello friend"


def test_invoke_model_with_response_stream_ends_with_the_guardrail_action(
    server: RunningServer, words: tuple[str, str]
) -> None:
    runtime = server.client("bedrock-runtime")
    response = runtime.invoke_model_with_response_stream(
        modelId=MODEL,
        body=anthropic_body("zorbex"),
        guardrailIdentifier=words[0],
        guardrailVersion=words[1],
    )
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    text = "".join(c["delta"].get("text", "") for c in chunks if c.get("type") == "content_block_delta")
    assert text == BLOCKED_IN
    assert chunks[-1]["amazon-bedrock-guardrailAction"] == "INTERVENED"


def test_unknown_guardrails_and_bad_requests_are_refused(
    server: RunningServer, words: tuple[str, str]
) -> None:
    runtime = server.client("bedrock-runtime")

    def error(call: Any, **kwargs: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as raised:
            call(**kwargs)
        return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]

    code, message = error(
        runtime.converse,
        modelId=MODEL,
        messages=user({"text": "hi"}),
        guardrailConfig={"guardrailIdentifier": "abcdefabcdef", "guardrailVersion": "1"},
    )
    assert code == "ResourceNotFoundException" and "does not exist" in message
    code, _ = error(
        runtime.converse,
        modelId=MODEL,
        messages=user({"text": "hi"}),
        guardrailConfig={"guardrailIdentifier": words[0], "guardrailVersion": "99"},
    )
    assert code == "ResourceNotFoundException"
    code, _ = error(
        runtime.invoke_model,
        modelId=MODEL,
        body=anthropic_body("hi"),
        guardrailIdentifier=words[0],
        guardrailVersion="v1",
    )
    assert code == "ValidationException"
    tagged = anthropic_body("hi", **{"amazon-bedrock-guardrailConfig": {"tagSuffix": "x"}})
    code, message = error(runtime.invoke_model, modelId=MODEL, body=tagged)
    assert code == "ValidationException" and "GuardrailIdentifier" in message


def test_apply_guardrail_answers_from_the_same_guardrail(
    server: RunningServer, words: tuple[str, str]
) -> None:
    runtime = server.client("bedrock-runtime")
    response = runtime.apply_guardrail(
        guardrailIdentifier=words[0],
        guardrailVersion=words[1],
        source="OUTPUT",
        content=[{"text": {"text": "the zorbex is here"}}],
    )
    assert response["action"] == "GUARDRAIL_INTERVENED"
    assert response["outputs"] == [{"text": BLOCKED_OUT}]
