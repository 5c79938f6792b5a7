"""Converse's additionalModelRequestFields and Claude's `thinking`, through boto3: what the local models can
take (top_k, Nova's inferenceConfig.topK, reasoning switched off) is served; reasoning switched on and any
other field is refused with a ValidationException instead of being dropped."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HELLO = [{"role": "user", "content": [{"text": "Say hello."}]}]


@pytest.mark.parametrize(
    "fields",
    [{"top_k": 5}, {"inferenceConfig": {"topK": 20}}, {"thinking": {"type": "disabled"}}, {}],
)
def test_fields_the_local_models_take_are_served(client: Callable[..., Any], fields: dict[str, Any]) -> None:
    answer = client("bedrock-runtime").converse(
        modelId=HAIKU, messages=HELLO, additionalModelRequestFields=fields
    )
    assert answer["output"]["message"]["content"][0]["text"]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "reasoning"),
        ({"reasoning_config": {"type": "enabled"}}, "reasoning"),
        ({"reasoning_effort": "high"}, "reasoning"),
        ({"top_k": "many"}, "top_k"),
        ({"frequency_penalty": 0.5}, "extraneous key [frequency_penalty]"),
    ],
)
def test_fields_that_cannot_be_honoured_are_refused(
    client: Callable[..., Any], fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(ClientError) as caught:
        client("bedrock-runtime").converse(modelId=HAIKU, messages=HELLO, additionalModelRequestFields=fields)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException" and says in error["Message"]


def test_claude_body_thinking_is_refused_on_and_served_off(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    body: dict[str, Any] = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 32,
        "messages": [{"role": "user", "content": "Say hello."}],
    }
    with pytest.raises(ClientError) as caught:
        runtime.invoke_model(
            modelId=HAIKU, body=json.dumps({**body, "thinking": {"type": "enabled", "budget_tokens": 1024}})
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    served = runtime.invoke_model(modelId=HAIKU, body=json.dumps({**body, "thinking": {"type": "disabled"}}))
    assert json.loads(served["body"].read())["content"][0]["text"]
