"""Every family's InvokeModelWithResponseStream chunks through boto3, read the way AWS's example scripts and
LangChain read them; each stream's last chunk, and only it, carries amazon-bedrock-invocationMetrics
(fake models, which answer "You said: <prompt>")."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from langchain_aws import BedrockLLM, ChatBedrock

Chunks = list[dict[str, Any]]


def stream(client: Callable[..., Any], model_id: str, body: dict[str, Any]) -> Chunks:
    response = client("bedrock-runtime").invoke_model_with_response_stream(
        modelId=model_id, body=json.dumps(body)
    )
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


def anthropic_text(chunks: Chunks) -> str:
    return "".join(c["delta"]["text"] for c in chunks if c.get("type") == "content_block_delta")


def openai_text(chunks: Chunks) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


def examples_generations(chunks: Chunks) -> str:
    """How AWS's Cohere Command and Command R streaming examples read a stream."""
    return "".join(c["generations"][0]["text"] for c in chunks if "generations" in c)


PROMPT = "Describe a hello world program"
ECHO = f"You said: {PROMPT}"
MESSAGES = [{"role": "user", "content": PROMPT}]
# DeepSeek-R1's chat markup as AWS's DeepSeek example writes it (full-width bars, U+2581 for spaces)
DEEPSEEK_PROMPT = (
    f"<\uff5cbegin\u2581of\u2581sentence\uff5c><\uff5cUser\uff5c>{PROMPT}<\uff5cAssistant\uff5c><think>\n"
)

FAMILIES: list[tuple[str, dict[str, Any], Callable[[Chunks], str]]] = [
    (
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": MESSAGES},
        anthropic_text,
    ),
    (
        "anthropic.claude-v2:1",
        {"prompt": f"\n\nHuman: {PROMPT}\n\nAssistant:", "max_tokens_to_sample": 50},
        lambda chunks: "".join(c["completion"] for c in chunks),
    ),
    (
        "amazon.titan-text-express-v1",
        {"inputText": PROMPT, "textGenerationConfig": {"maxTokenCount": 50}},
        lambda chunks: "".join(c["outputText"] for c in chunks),
    ),
    (
        "us.meta.llama3-2-3b-instruct-v1:0",
        {"prompt": PROMPT, "max_gen_len": 50},
        lambda chunks: "".join(c["generation"] for c in chunks),
    ),
    (
        "mistral.mistral-7b-instruct-v0:2",
        {"prompt": f"<s>[INST] {PROMPT} [/INST]", "max_tokens": 50},
        lambda chunks: "".join(c["outputs"][0]["text"] for c in chunks),
    ),
    (
        "mistral.mistral-large-2407-v1:0",
        {"messages": MESSAGES, "max_tokens": 50},
        lambda chunks: "".join(c["choices"][0]["message"]["content"] for c in chunks),
    ),
    ("cohere.command-light-text-v14", {"prompt": PROMPT, "max_tokens": 50}, examples_generations),
    ("cohere.command-r-v1:0", {"message": PROMPT, "max_tokens": 50}, examples_generations),
    ("ai21.jamba-1-5-mini-v1:0", {"messages": MESSAGES, "max_tokens": 50}, openai_text),
    (
        "amazon.nova-2-lite-v1:0",
        {"messages": [{"role": "user", "content": [{"text": PROMPT}]}], "inferenceConfig": {"maxTokens": 50}},
        lambda chunks: "".join(
            c["contentBlockDelta"]["delta"]["text"] for c in chunks if "contentBlockDelta" in c
        ),
    ),
    ("openai.gpt-oss-20b-1:0", {"messages": MESSAGES, "max_completion_tokens": 50}, openai_text),
    ("qwen.qwen3-32b-v1:0", {"messages": MESSAGES, "max_tokens": 50}, openai_text),
    (
        "us.deepseek.r1-v1:0",
        {"prompt": DEEPSEEK_PROMPT, "max_tokens": 50},
        lambda chunks: "".join(c["choices"][0]["text"] for c in chunks),
    ),
    ("deepseek.v3-v1:0", {"messages": MESSAGES, "max_tokens": 50}, openai_text),
    (
        "us.writer.palmyra-x5-v1:0",
        {"prompt": PROMPT, "max_tokens": 50},
        lambda chunks: "".join(c["choices"][0]["text"] for c in chunks),
    ),
    (
        "us.writer.palmyra-x4-v1:0",
        {"messages": [{"role": "user", "content": {"text": PROMPT}}]},
        openai_text,
    ),
]


@pytest.mark.parametrize(("model_id", "body", "read"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_every_family_streams_its_text_and_closes_with_metrics(
    client: Callable[..., Any], model_id: str, body: dict[str, Any], read: Callable[[Chunks], str]
) -> None:
    chunks = stream(client, model_id, body)
    assert read(chunks) == ECHO
    assert [("amazon-bedrock-invocationMetrics" in chunk) for chunk in chunks] == [False] * (
        len(chunks) - 1
    ) + [True]
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] > 0 and metrics["inputTokenCount"] > 0


def test_cohere_command_chunks_carry_generations_and_cohere_fields(client: Callable[..., Any]) -> None:
    chunks = stream(client, "cohere.command-text-v14", {"prompt": PROMPT, "max_tokens": 50})
    assert all(set(chunk) >= {"generations", "text", "is_finished"} for chunk in chunks)
    assert "".join(chunk["text"] for chunk in chunks) == ECHO  # what LangChain reads
    assert [chunk["is_finished"] for chunk in chunks][-2:] == [False, True]
    assert chunks[-1]["finish_reason"] == "COMPLETE"
    assert chunks[-1]["response"]["generations"][0]["text"] == ECHO


def test_cohere_command_r_events_keep_their_types(client: Callable[..., Any]) -> None:
    chunks = stream(client, "cohere.command-r-plus-v1:0", {"message": PROMPT, "max_tokens": 50})
    types = [chunk["event_type"] for chunk in chunks]
    assert (
        types[0] == "stream-start" and types[-1] == "stream-end" and set(types[1:-1]) == {"text-generation"}
    )
    assert "".join(c["text"] for c in chunks if c["event_type"] == "text-generation") == ECHO
    assert chunks[-1]["response"]["text"] == ECHO and chunks[-1]["finish_reason"] == "COMPLETE"


def test_openai_chat_chunks_are_chat_completion_chunks(client: Callable[..., Any]) -> None:
    chunks = stream(client, "openai.gpt-oss-120b-1:0", {"messages": MESSAGES})
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks][-2:] == [None, "stop"]
    assert (
        chunks[-1]["usage"]["completion_tokens"]
        == chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"]
    )


def test_a_model_without_streaming_refuses_it(client: Callable[..., Any]) -> None:
    with pytest.raises(ClientError) as caught:
        stream(client, "ai21.j2-mid-v1", {"prompt": PROMPT})
    assert "unsupported for streaming" in str(caught.value)


@pytest.mark.parametrize(
    ("model_id", "provider"),
    [
        ("cohere.command-text-v14", None),
        ("us.deepseek.r1-v1:0", None),
        ("us.meta.llama3-2-1b-instruct-v1:0", None),
        ("mistral.mistral-small-2402-v1:0", None),
        ("writer.palmyra-x5-v1:0", "writer"),
    ],
)
def test_langchain_bedrock_llm_streams_each_family(
    client: Callable[..., Any], model_id: str, provider: str | None
) -> None:
    options = {"provider": provider} if provider else {}
    llm = BedrockLLM(model_id=model_id, client=client("bedrock-runtime"), streaming=True, **options)
    assert "".join(llm.stream("hello there")) == "You said: hello there"


@pytest.mark.parametrize("model_id", ["openai.gpt-oss-20b-1:0", "qwen.qwen3-coder-30b-a3b-v1:0"])
def test_langchain_chat_bedrock_reads_openai_style_families(
    client: Callable[..., Any], model_id: str
) -> None:
    chat = ChatBedrock(model_id=model_id, client=client("bedrock-runtime"))
    assert "".join(str(chunk.content) for chunk in chat.stream("hello there")) == "You said: hello there"
    assert chat.invoke("hi").content == "You said: hi"
