"""Prompt management through boto3: prompts, variants, versions, paging, bad input, a prompt ARN as the
Converse modelId with promptVariables, and prompts kept across a restart (fake models; one real test)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"  # Qwen2.5-Coder-0.5B in the bundled catalog


def name() -> str:
    return "prompt-" + uuid.uuid4().hex[:10]


def text_variant(template: str, **extra: Any) -> dict[str, Any]:
    variables = [{"name": v} for v in ("topic", "tone") if "{{" + v + "}}" in template]
    return {
        "name": "main",
        "templateType": "TEXT",
        "templateConfiguration": {"text": {"text": template, "inputVariables": variables}},
        "modelId": HAIKU,
        **extra,
    }


def chat_variant() -> dict[str, Any]:
    return {
        "name": "chatty",
        "templateType": "CHAT",
        "templateConfiguration": {
            "chat": {
                "system": [{"text": "You answer about {{topic}}."}],
                "messages": [{"role": "user", "content": [{"text": "Tell me about {{topic}}"}]}],
                "inputVariables": [{"name": "topic"}],
            }
        },
        "modelId": HAIKU,
        "inferenceConfiguration": {"text": {"maxTokens": 50, "temperature": 0.1}},
    }


def converse_text(response: dict[str, Any]) -> str:
    return str(response["output"]["message"]["content"][0]["text"])


def test_prompt_lifecycle_with_versions(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    created = agent.create_prompt(
        name=name(), description="first", variants=[text_variant("Write about {{topic}}")]
    )
    pid = created["id"]
    assert created["version"] == "DRAFT"
    assert created["defaultVariant"] == "main"
    assert created["arn"].endswith(f":prompt/{pid}")
    assert agent.get_prompt(promptIdentifier=pid)["variants"][0]["templateConfiguration"]["text"]["text"] == (
        "Write about {{topic}}"
    )
    version = agent.create_prompt_version(promptIdentifier=created["arn"], description="v1")
    assert (version["version"], version["arn"]) == ("1", f"{created['arn']}:1")
    updated = agent.update_prompt(
        promptIdentifier=pid, name=created["name"], variants=[text_variant("Now {{topic}}")]
    )
    assert updated["variants"][0]["templateConfiguration"]["text"]["text"] == "Now {{topic}}"
    frozen = agent.get_prompt(promptIdentifier=pid, promptVersion="1")
    assert frozen["variants"][0]["templateConfiguration"]["text"]["text"] == "Write about {{topic}}"
    assert frozen["description"] == "v1"
    assert agent.get_prompt(promptIdentifier=version["arn"])["version"] == "1"
    assert "variants" not in agent.get_prompt(promptIdentifier=pid, includedData="METADATA_ONLY")
    agent.create_prompt_version(promptIdentifier=pid)
    versions = agent.list_prompts(promptIdentifier=pid)["promptSummaries"]
    assert [v["version"] for v in versions] == ["DRAFT", "1", "2"]
    deleted = agent.delete_prompt(promptIdentifier=pid, promptVersion="1")
    assert (deleted["id"], deleted["version"]) == (pid, "1")
    assert [v["version"] for v in agent.list_prompts(promptIdentifier=pid)["promptSummaries"]] == [
        "DRAFT",
        "2",
    ]
    assert agent.delete_prompt(promptIdentifier=pid)["id"] == pid
    missing = error_of(agent.get_prompt, promptIdentifier=pid)
    assert (missing["Code"], missing["Status"]) == ("ResourceNotFoundException", 404)


def test_list_prompts_pages(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    made = {agent.create_prompt(name=name(), variants=[text_variant("hi")])["id"] for _ in range(3)}
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = agent.list_prompts(maxResults=2, **token)
        assert len(page["promptSummaries"]) <= 2
        seen += [p["id"] for p in page["promptSummaries"]]
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}
    assert made <= set(seen)
    assert len(seen) == len(set(seen))
    bad = error_of(agent.list_prompts, nextToken="garbage-token")
    assert bad["Code"] == "ValidationException"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"defaultVariant": "other"}, "defaultVariant other"),
        ({"variants": [{**text_variant("x"), "templateType": "CHAT"}]}, "must contain chat"),
        ({"variants": [text_variant("x", modelId="acme.nonexistent-v1:0")]}, "not a text model"),
        ({"variants": [text_variant("x"), text_variant("y")]}, "less than or equal to 1"),
        ({"customerEncryptionKeyArn": "arn:aws:kms:us-east-1:000000000000:key/" + "1" * 36}, "KMS"),
        (
            {"variants": [text_variant("{{topic}} {{mood}}")]},
            "uses mood",
        ),
    ],
)
def test_bad_prompts_are_refused(client: Callable[..., Any], changes: dict[str, Any], words: str) -> None:
    agent = client("bedrock-agent")
    request = {"name": name(), "variants": [text_variant("Hello {{topic}}")], **changes}
    error = error_of(agent.create_prompt, **request)
    assert (error["Code"], error["Status"]) == ("ValidationException", 400)
    assert words in error["Message"]


def test_prompt_names_and_versions_are_checked(client: Callable[..., Any]) -> None:
    agent = client("bedrock-agent")
    taken = name()
    pid = agent.create_prompt(name=taken, variants=[text_variant("hi")])["id"]
    assert error_of(agent.create_prompt, name=taken)["Code"] == "ConflictException"
    assert error_of(agent.get_prompt, promptIdentifier=pid, promptVersion="7")["Code"] == (
        "ResourceNotFoundException"
    )
    assert error_of(agent.delete_prompt, promptIdentifier=pid, promptVersion="7")["Status"] == 404
    assert error_of(agent.get_prompt, promptIdentifier="bad id!")["Code"] == "ValidationException"


def test_prompt_arn_is_a_converse_model(client: Callable[..., Any]) -> None:
    agent, runtime = client("bedrock-agent"), client("bedrock-runtime")
    created = agent.create_prompt(
        name=name(), variants=[text_variant("Write a {{tone}} note about {{topic}}")]
    )
    arn = agent.create_prompt_version(promptIdentifier=created["id"])["arn"]
    variables = {"topic": {"text": "otters"}, "tone": {"text": "cheerful"}}
    answer = runtime.converse(modelId=arn, promptVariables=variables)
    assert converse_text(answer) == "You said: Write a cheerful note about otters"
    draft = runtime.converse(modelId=created["arn"], promptVariables=variables)
    assert converse_text(draft) == "You said: Write a cheerful note about otters"
    stream = runtime.converse_stream(modelId=arn, promptVariables=variables)["stream"]
    text = "".join(
        e["contentBlockDelta"]["delta"].get("text", "") for e in stream if "contentBlockDelta" in e
    )
    assert text == "You said: Write a cheerful note about otters"


def test_chat_prompt_with_appended_messages(client: Callable[..., Any]) -> None:
    agent, runtime = client("bedrock-agent"), client("bedrock-runtime")
    created = agent.create_prompt(name=name(), variants=[chat_variant()])
    answer = runtime.converse(
        modelId=created["arn"],
        promptVariables={"topic": {"text": "tides"}},
        messages=[{"role": "user", "content": [{"text": "briefly"}]}],
    )
    assert converse_text(answer) == "You said: Tell me about tides\nbriefly"


def test_converse_with_a_prompt_refuses_what_the_prompt_defines(client: Callable[..., Any]) -> None:
    agent, runtime = client("bedrock-agent"), client("bedrock-runtime")
    arn = agent.create_prompt(name=name(), variants=[text_variant("About {{topic}}")])["arn"]
    values = {"topic": {"text": "x"}}
    for field, value in (
        ("inferenceConfig", {"maxTokens": 10}),
        ("system", [{"text": "be brief"}]),
        ("additionalModelRequestFields", {"top_k": 5}),
    ):
        error = error_of(runtime.converse, modelId=arn, promptVariables=values, **{field: value})
        assert error["Code"] == "ValidationException" and field in error["Message"]
    missing = error_of(runtime.converse, modelId=arn)
    assert "topic" in missing["Message"]
    plain = runtime.converse(  # AWS ignores promptVariables when modelId is not a prompt
        modelId=HAIKU, messages=[{"role": "user", "content": [{"text": "hi"}]}], promptVariables=values
    )
    assert converse_text(plain) == "You said: hi"
    gone = arn.replace(arn.rsplit("/", 1)[1], "ZZZZZZZZZZ")
    assert (
        error_of(runtime.converse, modelId=gone, promptVariables=values)["Code"]
        == "ResourceNotFoundException"
    )


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path / "data").start()
    yield running
    running.stop()


def test_prompts_survive_a_restart(own_server: RunningServer) -> None:
    agent = own_server.client("bedrock-agent")
    created = agent.create_prompt(name="kept", variants=[text_variant("Keep {{topic}}")])
    agent.create_prompt_version(promptIdentifier=created["id"])
    own_server.restart()
    agent = own_server.client("bedrock-agent")
    assert [p["version"] for p in agent.list_prompts(promptIdentifier=created["id"])["promptSummaries"]] == [
        "DRAFT",
        "1",
    ]
    answer = own_server.client("bedrock-runtime").converse(
        modelId=f"{created['arn']}:1", promptVariables={"topic": {"text": "this"}}
    )
    assert converse_text(answer) == "You said: Keep this"


@pytest.mark.real
def test_prompt_with_a_variable_on_the_real_model(real_server: RunningServer) -> None:
    agent = real_server.client("bedrock-agent")
    variant = text_variant(
        "What is the capital of {{topic}}? Answer with one word.",
        inferenceConfiguration={"text": {"maxTokens": 8, "temperature": 0.0}},
    )
    arn = agent.create_prompt(name=name(), variants=[variant])["arn"]
    answer = real_server.client("bedrock-runtime").converse(
        modelId=arn, promptVariables={"topic": {"text": "France"}}
    )
    assert "paris" in converse_text(answer).lower()
    assert answer["usage"]["outputTokens"] <= 8
