"""A Bedrock guardrail on the OpenAI-compatible API, named by headers, through the official `openai` client
against the fake models: the input and the reply are screened, an unknown guardrail is a clear 404."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.server import RunningServer
from tests.services.test_bedrock_guardrail_enforce import BLOCKED_IN, BLOCKED_OUT, make_guardrail

CHAT = "anthropic.claude-3-haiku-20240307-v1:0"


def test_a_guardrail_named_by_header_screens_chat_completions(server: RunningServer) -> None:
    guardrail_id, version = make_guardrail(
        server,
        "openai-words",
        wordPolicyConfig={"wordsConfig": [{"text": "zorbex"}, {"text": "said", "inputEnabled": False}]},
    )
    headers = {"X-Amzn-Bedrock-GuardrailIdentifier": guardrail_id, "X-Amzn-Bedrock-GuardrailVersion": version}
    client = openai.OpenAI(
        base_url=server.endpoint + "/v1", api_key="sk-local", max_retries=0, default_headers=headers
    )
    blocked = client.chat.completions.with_raw_response.create(
        model=CHAT, messages=[{"role": "user", "content": "what is zorbex?"}]
    )
    assert blocked.headers["x-amzn-bedrock-guardrail-action"] == "INTERVENED"
    completion = blocked.parse()
    assert completion.choices[0].message.content == BLOCKED_IN
    assert completion.choices[0].finish_reason == "content_filter"
    assert completion.usage is not None and completion.usage.completion_tokens == 0
    # the reply is screened too: the echo's "You said" is denied on output only
    reply = client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content == BLOCKED_OUT
    stream = client.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "hello"}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == BLOCKED_OUT
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"
    # without the headers nothing is screened
    plain = openai.OpenAI(base_url=server.endpoint + "/v1", api_key="sk-local", max_retries=0)
    answer = plain.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "hello"}])
    assert answer.choices[0].message.content == "You said: hello"
    unknown = httpx.post(
        server.endpoint + "/v1/chat/completions",
        headers={
            "X-Amzn-Bedrock-GuardrailIdentifier": "abcdef123456",
            "X-Amzn-Bedrock-GuardrailVersion": "1",
        },
        json={"model": CHAT, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert unknown.status_code == 404
    error = json.loads(unknown.text)["error"]
    assert error["code"] == "guardrail_not_found" and "does not exist" in error["message"]
    with pytest.raises(openai.BadRequestError, match="not valid"):
        plain.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={**headers, "X-Amzn-Bedrock-GuardrailVersion": "latest"},
        )
