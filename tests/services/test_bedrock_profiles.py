"""Inference profiles through boto3: system-defined cross-region profiles from the catalog, application
profiles made, tagged, used as modelId and deleted, kept across a restart (fake models)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from outcrop.backends.registry import ModelRegistry
from outcrop.catalog import BedrockModel, Catalog
from outcrop.inference import Inference
from outcrop.protocol.errors import ValidationException
from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def in_region(server: RunningServer, region: str) -> Any:
    return boto3.client(
        "bedrock",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id="AKIAOUTCROPTEST",
        aws_secret_access_key="test-secret",
    )


def name() -> str:
    return "app-" + uuid.uuid4().hex[:10]


def code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def ask(client: Callable[..., Any], model_id: str, text: str = "hi there") -> str:
    output = client("bedrock-runtime").converse(
        modelId=model_id, messages=[{"role": "user", "content": [{"text": text}]}]
    )
    return str(output["output"]["message"]["content"][0]["text"])


def test_system_profiles_are_listed_for_the_callers_geo(
    client: Callable[..., Any], server: RunningServer
) -> None:
    bedrock = client("bedrock")
    summaries = bedrock.list_inference_profiles()["inferenceProfileSummaries"]
    ids = {summary["inferenceProfileId"] for summary in summaries}
    assert {f"us.{HAIKU}", f"global.{SONNET_45}", "us.meta.llama3-2-3b-instruct-v1:0"} <= ids
    assert not any(profile_id.startswith(("eu.", "apac.", "jp.")) for profile_id in ids)  # us-east-1
    assert all(summary["type"] == "SYSTEM_DEFINED" for summary in summaries)
    haiku = next(summary for summary in summaries if summary["inferenceProfileId"] == f"us.{HAIKU}")
    assert haiku["inferenceProfileName"] == "US Anthropic Claude 3 Haiku"
    assert (
        haiku["inferenceProfileArn"] == f"arn:aws:bedrock:us-east-1:000000000000:inference-profile/us.{HAIKU}"
    )
    assert [model["modelArn"] for model in haiku["models"]] == [
        f"arn:aws:bedrock:{region}::foundation-model/{HAIKU}"
        for region in ("us-east-1", "us-east-2", "us-west-2")
    ]
    eu_ids = {
        summary["inferenceProfileId"]
        for summary in in_region(server, "eu-west-1").list_inference_profiles()["inferenceProfileSummaries"]
    }
    assert f"eu.{HAIKU}" in eu_ids and f"global.{SONNET_45}" in eu_ids and f"us.{HAIKU}" not in eu_ids


def test_system_profiles_page_and_get_by_id_or_arn(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    whole = bedrock.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    paged = [
        summary
        for page in bedrock.get_paginator("list_inference_profiles").paginate(
            typeEquals="SYSTEM_DEFINED", PaginationConfig={"PageSize": 7}
        )
        for summary in page["inferenceProfileSummaries"]
    ]
    assert len(whole) > 7 and paged == whole
    by_id = bedrock.get_inference_profile(inferenceProfileIdentifier=f"global.{SONNET_45}")
    by_arn = bedrock.get_inference_profile(inferenceProfileIdentifier=by_id["inferenceProfileArn"])
    assert by_id["inferenceProfileId"] == by_arn["inferenceProfileId"] == f"global.{SONNET_45}"
    assert by_id["models"] == [{"modelArn": f"arn:aws:bedrock:::foundation-model/{SONNET_45}"}]
    with pytest.raises(ClientError) as caught:
        bedrock.list_inference_profiles(nextToken="not-a-token")
    assert code(caught.value) == "ValidationException"
    for missing in (f"eu.{'cohere.command-r-v1:0'}", "us.vendor.nothing-v1:0"):
        with pytest.raises(ClientError) as caught:
            bedrock.get_inference_profile(inferenceProfileIdentifier=missing)
        assert code(caught.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        bedrock.delete_inference_profile(inferenceProfileIdentifier=f"us.{HAIKU}")
    assert code(caught.value) == "ValidationException"


def test_system_profile_ids_and_arns_are_model_ids(client: Callable[..., Any]) -> None:
    assert ask(client, f"us.{HAIKU}") == "You said: hi there"
    assert ask(client, f"arn:aws:bedrock:us-east-1:000000000000:inference-profile/global.{SONNET_45}")
    with pytest.raises(ClientError) as caught:  # AWS defines no EU profile for Command R
        ask(client, "eu.cohere.command-r-v1:0")
    assert "model identifier is invalid" in str(caught.value)


def test_application_profile_lifecycle(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    profile_name = name()
    created = bedrock.create_inference_profile(
        inferenceProfileName=profile_name,
        description="cost tracking for team a",
        modelSource={"copyFrom": f"arn:aws:bedrock:us-east-1:000000000000:inference-profile/us.{HAIKU}"},
        tags=[{"key": "team", "value": "a"}],
    )
    arn = created["inferenceProfileArn"]
    assert created["status"] == "ACTIVE" and ":application-inference-profile/" in arn
    profile_id = arn.rpartition("/")[2]
    got = bedrock.get_inference_profile(inferenceProfileIdentifier=profile_id)
    assert got["inferenceProfileArn"] == arn and got["type"] == "APPLICATION"
    assert got["inferenceProfileName"] == profile_name and got["description"] == "cost tracking for team a"
    assert len(got["models"]) == 3  # the system profile's models, copied
    listed = bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]
    assert arn in {summary["inferenceProfileArn"] for summary in listed}

    assert ask(client, arn, "by arn") == "You said: by arn"
    assert ask(client, profile_id, "by id") == "You said: by id"

    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "a"}]
    bedrock.tag_resource(
        resourceARN=arn, tags=[{"key": "team", "value": "b"}, {"key": "env", "value": "dev"}]
    )
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [
        {"key": "env", "value": "dev"},
        {"key": "team", "value": "b"},
    ]
    bedrock.untag_resource(resourceARN=arn, tagKeys=["env"])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "b"}]
    with pytest.raises(ClientError) as caught:
        bedrock.tag_resource(resourceARN=arn, tags=[{"key": f"k{n}", "value": "v"} for n in range(50)])
    assert code(caught.value) == "TooManyTagsException"

    with pytest.raises(ClientError) as caught:
        bedrock.create_inference_profile(
            inferenceProfileName=profile_name,
            modelSource={"copyFrom": f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"},
        )
    assert code(caught.value) == "ConflictException"

    bedrock.delete_inference_profile(inferenceProfileIdentifier=arn)
    with pytest.raises(ClientError) as caught:
        bedrock.get_inference_profile(inferenceProfileIdentifier=arn)
    assert code(caught.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        ask(client, arn)
    assert "model identifier is invalid" in str(caught.value)
    with pytest.raises(ClientError) as caught:
        bedrock.list_tags_for_resource(resourceARN=arn)
    assert code(caught.value) == "ResourceNotFoundException"


def test_application_profile_from_a_foundation_model_serves_invoke_model(client: Callable[..., Any]) -> None:
    import json

    bedrock = client("bedrock")
    arn = bedrock.create_inference_profile(
        inferenceProfileName=name(),
        modelSource={"copyFrom": "arn:aws:bedrock:us-west-2::foundation-model/openai.gpt-oss-20b-1:0"},
    )["inferenceProfileArn"]
    got = bedrock.get_inference_profile(inferenceProfileIdentifier=arn)
    assert got["models"] == [
        {"modelArn": "arn:aws:bedrock:us-west-2::foundation-model/openai.gpt-oss-20b-1:0"}
    ]
    response = client("bedrock-runtime").invoke_model(
        modelId=arn, body=json.dumps({"messages": [{"role": "user", "content": "hello"}]})
    )
    body = json.loads(response["body"].read())
    assert (
        body["object"] == "chat.completion" and body["choices"][0]["message"]["content"] == "You said: hello"
    )


@pytest.mark.parametrize(
    "source",
    [
        "arn:aws:bedrock:us-east-1::foundation-model/vendor.nothing-v1:0",
        "arn:aws:bedrock:us-east-1:000000000000:inference-profile/eu.cohere.command-r-v1:0",
    ],
)
def test_application_profile_needs_a_known_source(client: Callable[..., Any], source: str) -> None:
    with pytest.raises(ClientError) as caught:
        client("bedrock").create_inference_profile(
            inferenceProfileName=name(), modelSource={"copyFrom": source}
        )
    assert code(caught.value) == "ValidationException" and source in str(caught.value)


def test_profiles_of_another_region_are_not_found(client: Callable[..., Any], server: RunningServer) -> None:
    arn = client("bedrock").create_inference_profile(
        inferenceProfileName=name(),
        modelSource={"copyFrom": f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"},
    )["inferenceProfileArn"]
    with pytest.raises(ClientError) as caught:
        in_region(server, "eu-west-1").get_inference_profile(inferenceProfileIdentifier=arn)
    assert code(caught.value) == "ResourceNotFoundException"


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path / "data").start()
    yield running
    running.stop()


def test_application_profiles_survive_a_restart(own_server: RunningServer) -> None:
    bedrock = own_server.client("bedrock")
    arn = bedrock.create_inference_profile(
        inferenceProfileName="kept",
        modelSource={"copyFrom": f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"},
        tags=[{"key": "cost-center", "value": "42"}],
    )["inferenceProfileArn"]
    own_server.restart()
    bedrock = own_server.client("bedrock")
    assert bedrock.get_inference_profile(inferenceProfileIdentifier=arn)["inferenceProfileName"] == "kept"
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "cost-center", "value": "42"}]
    assert ask(own_server.client, arn, "after restart") == "You said: after restart"


class _Profiles:
    def model_of(self, identifier: str) -> str | None:
        return (
            "vendor.chat-v1:0" if identifier.endswith("application-inference-profile/abc123abc123") else None
        )


def test_resolve_asks_the_injected_resolver_only_for_ids_the_catalog_lacks(tmp_path: Path) -> None:
    chat = BedrockModel("vendor.chat-v1:0", "Chat", "Vendor", "anthropic", "chat", "chat", profiles=("us",))
    image = BedrockModel(
        "vendor.image-v1:0",
        "Image",
        "Vendor",
        "",
        "",
        "image",
        output_modalities=("IMAGE",),
        profiles=("us",),
    )
    local = {"chat": {"runtime": "fake", "kind": "chat"}}
    catalog = Catalog(local=local, bedrock={chat.model_id: chat}, unserved={image.model_id: image})
    path = Inference(catalog, ModelRegistry(local, tmp_path), max_in_flight=1, profiles=_Profiles())
    assert path.resolve("us.vendor.chat-v1:0") is chat
    assert path.resolve("arn:aws:bedrock:us-east-1:1:application-inference-profile/abc123abc123") is chat
    for invalid in ("eu.vendor.chat-v1:0", "arn:aws:bedrock:us-east-1:1:application-inference-profile/other"):
        with pytest.raises(ValidationException, match="model identifier is invalid"):
            path.resolve(invalid)
    with pytest.raises(ValidationException, match="image generation is not served locally"):
        path.resolve("us.vendor.image-v1:0")
