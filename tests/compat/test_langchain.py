"""langchain-aws (pinned in the dev extra), unmodified, pointed at a running server with fake models."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, cast

import pytest
from langchain_aws import BedrockEmbeddings, ChatBedrock, ChatBedrockConverse
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return "sunny"


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str
    age: int


def connection(server: RunningServer) -> dict[str, Any]:
    return {
        "endpoint_url": server.endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "AKIAOUTCROPLANGCHAIN",
        "aws_secret_access_key": "langchain-secret",
    }


def operations(model: ChatBedrock | ChatBedrockConverse | BedrockEmbeddings) -> list[str]:
    """Record the Bedrock operations the model's boto3 client calls from now on."""
    called: list[str] = []
    model.client.meta.events.register("before-call.*.*", lambda model, **_: called.append(model.name))
    return called


def joined(chunks: Iterable[BaseMessage]) -> AIMessageChunk:
    """The streamed chunks added up into one message, as LangChain users do."""
    parts = list(chunks)
    assert parts
    assert all(isinstance(part, AIMessageChunk) for part in parts)
    total = cast(AIMessageChunk, parts[0])
    for chunk in parts[1:]:
        total = total + cast(AIMessageChunk, chunk)
    return total


def text_of(message: BaseMessage) -> str:
    """The text of a message whose content is a string or a list of content blocks."""
    if isinstance(message.content, str):
        return message.content
    return "".join(block["text"] for block in message.content if isinstance(block, dict) and "text" in block)


def weather_round_trip(chat: Any) -> None:
    """Ask about the weather, check the parsed tool call, answer it and check the model reads the result."""
    bound = chat.bind_tools([get_weather])
    history: list[BaseMessage] = [HumanMessage("What is the weather in Paris?")]
    asked = bound.invoke(history)
    assert isinstance(asked, AIMessage)
    assert [(call["name"], call["args"]) for call in asked.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert asked.tool_calls[0]["id"]
    history += [asked, ToolMessage("sunny, 21C", tool_call_id=asked.tool_calls[0]["id"])]
    assert text_of(bound.invoke(history)) == "The tool get_weather returned: sunny, 21C"


def test_converse_invoke(server: RunningServer) -> None:
    chat = ChatBedrockConverse(model=HAIKU, **connection(server))
    called = operations(chat)
    answer = chat.invoke([HumanMessage("first"), AIMessage("ok"), HumanMessage("hello langchain")])
    assert called == ["Converse"]
    assert answer.content == "You said: hello langchain"
    assert answer.response_metadata["stopReason"] == "end_turn"
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["output_tokens"] == 4
    assert answer.usage_metadata["total_tokens"] == answer.usage_metadata["input_tokens"] + 4


def test_converse_stream(server: RunningServer) -> None:
    chat = ChatBedrockConverse(model=HAIKU, **connection(server))
    called = operations(chat)
    chunks = list(chat.stream("stream me now"))
    assert called == ["ConverseStream"]
    deltas = [text_of(chunk) for chunk in chunks if text_of(chunk)]
    assert deltas == ["You", " said:", " stream", " me", " now"]
    total = joined(chunks)
    assert text_of(total) == "You said: stream me now"
    assert total.usage_metadata is not None
    assert total.usage_metadata["output_tokens"] == 5


def test_converse_bind_tools(server: RunningServer) -> None:
    chat = ChatBedrockConverse(model=HAIKU, **connection(server))
    weather_round_trip(chat)
    streamed = joined(chat.bind_tools([get_weather]).stream("What is the weather in Oslo?"))
    assert [(call["name"], call["args"]) for call in streamed.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]


def test_converse_structured_output(server: RunningServer) -> None:
    chat = ChatBedrockConverse(model=HAIKU, **connection(server))
    assert chat.with_structured_output(Person).invoke("Alice is 30") == Person(name="example", age=1)


def test_converse_other_families(server: RunningServer) -> None:
    for model_id in [
        "meta.llama3-8b-instruct-v1:0",
        "amazon.nova-micro-v1:0",
        "mistral.mistral-large-2402-v1:0",
    ]:
        chat = ChatBedrockConverse(model=model_id, **connection(server))
        assert chat.invoke("hi there").content == "You said: hi there", model_id


def test_chat_bedrock_anthropic_invoke_model(server: RunningServer) -> None:
    chat = ChatBedrock(model=HAIKU, **connection(server))
    called = operations(chat)
    answer = chat.invoke("hello bedrock")
    assert called == ["InvokeModel"]
    assert answer.content == "You said: hello bedrock"
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["output_tokens"] == 4


def test_chat_bedrock_anthropic_stream(server: RunningServer) -> None:
    chat = ChatBedrock(model=HAIKU, **connection(server))
    called = operations(chat)
    chunks = list(chat.stream("stream bedrock please"))
    assert called == ["InvokeModelWithResponseStream"]
    assert [chunk.content for chunk in chunks if chunk.content] == [
        "You",
        " said:",
        " stream",
        " bedrock",
        " please",
    ]
    assert joined(chunks).content == "You said: stream bedrock please"


def test_chat_bedrock_anthropic_tools(server: RunningServer) -> None:
    weather_round_trip(ChatBedrock(model=HAIKU, **connection(server)))


def test_chat_bedrock_llama_invoke_and_stream(server: RunningServer) -> None:
    chat = ChatBedrock(model="meta.llama3-8b-instruct-v1:0", **connection(server))
    assert chat.invoke("hello llama").content == "You said: hello llama"
    assert joined(chat.stream("stream llama")).content == "You said: stream llama"


@pytest.mark.parametrize(
    ("model_id", "dimensions"), [("amazon.titan-embed-text-v1", 1536), ("amazon.titan-embed-text-v2:0", 1024)]
)
def test_bedrock_embeddings(server: RunningServer, model_id: str, dimensions: int) -> None:
    embeddings = BedrockEmbeddings(model_id=model_id, **connection(server))
    called = operations(embeddings)
    documents = embeddings.embed_documents(["the cat sat", "stock prices fell", "the cat slept"])
    query = embeddings.embed_query("the cat sat")
    assert called == ["InvokeModel"] * 4
    assert [len(vector) for vector in documents] == [dimensions] * 3
    assert len(query) == dimensions
    for vector in [*documents, query]:
        assert math.isclose(math.sqrt(sum(value * value for value in vector)), 1.0, abs_tol=1e-5)
    assert query == pytest.approx(documents[0])

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(query, documents[2]) > cosine(query, documents[1])
