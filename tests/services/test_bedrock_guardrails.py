"""Bedrock guardrails' control plane through boto3: create, get, update, version, list, delete, tags, the
checks AWS makes and the ones this server adds for what it cannot honour, and persistence across a
restart (fake models)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer

MESSAGES = {"blockedInputMessaging": "Sorry, I cannot help with that.", "blockedOutputsMessaging": "Blocked."}
WORDS = {"wordsConfig": [{"text": "stock tips"}], "managedWordListsConfig": [{"type": "PROFANITY"}]}


def name() -> str:
    return "gr-" + uuid.uuid4().hex[:10]


def code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def refused(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return code(caught.value), str(caught.value.response["Error"]["Message"])


def create(bedrock: Any, **policies: Any) -> dict[str, Any]:
    made: dict[str, Any] = bedrock.create_guardrail(
        name=name(), **MESSAGES, **(policies or {"wordPolicyConfig": WORDS})
    )
    return made


def test_create_get_update_version_and_list(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    made = bedrock.create_guardrail(
        name=name(),
        description="first",
        **MESSAGES,
        wordPolicyConfig=WORDS,
        sensitiveInformationPolicyConfig={
            "piiEntitiesConfig": [{"type": "EMAIL", "action": "ANONYMIZE"}],
            "regexesConfig": [{"name": "ticket", "pattern": r"TCK-\d{4}", "action": "BLOCK"}],
        },
        contextualGroundingPolicyConfig={"filtersConfig": [{"type": "GROUNDING", "threshold": 0.7}]},
        tags=[{"key": "team", "value": "search"}],
    )
    guardrail_id, arn = made["guardrailId"], made["guardrailArn"]
    assert made["version"] == "DRAFT" and len(guardrail_id) == 12 and guardrail_id.isalnum()
    assert arn == f"arn:aws:bedrock:us-east-1:000000000000:guardrail/{guardrail_id}"
    got = bedrock.get_guardrail(guardrailIdentifier=guardrail_id)
    assert got["status"] == "READY" and got["version"] == "DRAFT" and got["description"] == "first"
    assert got["wordPolicy"]["words"] == [
        {
            "text": "stock tips",
            "inputAction": "BLOCK",
            "outputAction": "BLOCK",
            "inputEnabled": True,
            "outputEnabled": True,
        }
    ]
    assert got["wordPolicy"]["managedWordLists"][0]["type"] == "PROFANITY"
    pii = got["sensitiveInformationPolicy"]["piiEntities"][0]
    assert (
        pii["type"] == "EMAIL" and pii["action"] == pii["inputAction"] == pii["outputAction"] == "ANONYMIZE"
    )
    assert got["sensitiveInformationPolicy"]["regexes"][0]["pattern"] == r"TCK-\d{4}"
    assert got["contextualGroundingPolicy"]["filters"][0] == {
        "type": "GROUNDING",
        "threshold": 0.7,
        "action": "BLOCK",
        "enabled": True,
    }
    assert "topicPolicy" not in got and "contentPolicy" not in got
    assert bedrock.get_guardrail(guardrailIdentifier=arn)["guardrailId"] == guardrail_id

    first = bedrock.create_guardrail_version(guardrailIdentifier=arn, description="v1")
    assert first == {
        "guardrailId": guardrail_id,
        "version": "1",
        "ResponseMetadata": first["ResponseMetadata"],
    }
    updated = bedrock.update_guardrail(
        guardrailIdentifier=guardrail_id, name=got["name"], **MESSAGES,
        wordPolicyConfig={"wordsConfig": [{"text": "crypto"}]},
    )  # fmt: skip
    assert updated["version"] == "DRAFT" and updated["updatedAt"] >= got["updatedAt"]
    draft = bedrock.get_guardrail(guardrailIdentifier=guardrail_id, guardrailVersion="DRAFT")
    assert [w["text"] for w in draft["wordPolicy"]["words"]] == ["crypto"]
    assert "sensitiveInformationPolicy" not in draft and "description" not in draft
    version_1 = bedrock.get_guardrail(guardrailIdentifier=guardrail_id, guardrailVersion="1")
    assert version_1["version"] == "1" and version_1["description"] == "v1"
    assert [w["text"] for w in version_1["wordPolicy"]["words"]] == ["stock tips"]  # immutable
    assert bedrock.create_guardrail_version(guardrailIdentifier=guardrail_id)["version"] == "2"

    versions = bedrock.list_guardrails(guardrailIdentifier=guardrail_id)["guardrails"]
    assert [v["version"] for v in versions] == ["DRAFT", "1", "2"]
    assert {v["id"] for v in versions} == {guardrail_id} and all(v["status"] == "READY" for v in versions)
    drafts = bedrock.list_guardrails()["guardrails"]
    assert any(d["id"] == guardrail_id and d["version"] == "DRAFT" for d in drafts)
    assert all(d["version"] == "DRAFT" for d in drafts)


def test_list_pages_with_the_paginator(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    made = [create(bedrock)["guardrailId"] for _ in range(3)]
    pages = list(bedrock.get_paginator("list_guardrails").paginate(PaginationConfig={"PageSize": 2}))
    assert all(len(page["guardrails"]) <= 2 for page in pages) and len(pages) >= 2
    seen = [g["id"] for page in pages for g in page["guardrails"]]
    assert set(made) <= set(seen) and len(seen) == len(set(seen))
    with pytest.raises(ClientError) as caught:
        bedrock.list_guardrails(nextToken="bm90LWEtdG9rZW4")
    assert code(caught.value) == "ValidationException"


def test_client_request_token_makes_one_guardrail_and_one_version(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    token = uuid.uuid4().hex
    first = bedrock.create_guardrail(
        name=name(), **MESSAGES, wordPolicyConfig=WORDS, clientRequestToken=token
    )
    again = bedrock.create_guardrail(
        name=name(), **MESSAGES, wordPolicyConfig=WORDS, clientRequestToken=token
    )
    assert again["guardrailId"] == first["guardrailId"]
    version_token = uuid.uuid4().hex
    one = bedrock.create_guardrail_version(
        guardrailIdentifier=first["guardrailId"], clientRequestToken=version_token
    )
    two = bedrock.create_guardrail_version(
        guardrailIdentifier=first["guardrailId"], clientRequestToken=version_token
    )
    assert one["version"] == two["version"] == "1"


def test_delete_a_version_then_the_guardrail(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    guardrail_id = create(bedrock)["guardrailId"]
    bedrock.create_guardrail_version(guardrailIdentifier=guardrail_id)
    bedrock.create_guardrail_version(guardrailIdentifier=guardrail_id)
    bedrock.delete_guardrail(guardrailIdentifier=guardrail_id, guardrailVersion="1")
    assert refused(bedrock.get_guardrail, guardrailIdentifier=guardrail_id, guardrailVersion="1")[0] == (
        "ResourceNotFoundException"
    )
    assert refused(bedrock.delete_guardrail, guardrailIdentifier=guardrail_id, guardrailVersion="1")[0] == (
        "ResourceNotFoundException"
    )
    assert (
        bedrock.create_guardrail_version(guardrailIdentifier=guardrail_id)["version"] == "3"
    )  # never reused
    bedrock.delete_guardrail(guardrailIdentifier=guardrail_id)
    for call, kwargs in [
        (bedrock.get_guardrail, {"guardrailIdentifier": guardrail_id}),
        (bedrock.get_guardrail, {"guardrailIdentifier": guardrail_id, "guardrailVersion": "2"}),
        (bedrock.delete_guardrail, {"guardrailIdentifier": guardrail_id}),
        (bedrock.create_guardrail_version, {"guardrailIdentifier": guardrail_id}),
        (bedrock.list_guardrails, {"guardrailIdentifier": guardrail_id}),
    ]:
        assert refused(call, **kwargs)[0] == "ResourceNotFoundException"
    assert guardrail_id not in {g["id"] for g in bedrock.list_guardrails()["guardrails"]}


def test_tags_on_a_guardrail_arn(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    arn = bedrock.create_guardrail(
        name=name(), **MESSAGES, wordPolicyConfig=WORDS, tags=[{"key": "team", "value": "search"}]
    )["guardrailArn"]
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "search"}]
    bedrock.tag_resource(
        resourceARN=arn, tags=[{"key": "env", "value": "dev"}, {"key": "team", "value": "ml"}]
    )
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [
        {"key": "env", "value": "dev"}, {"key": "team", "value": "ml"}
    ]  # fmt: skip
    bedrock.untag_resource(resourceARN=arn, tagKeys=["env"])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "ml"}]
    many = [{"key": f"k{i}", "value": "v"} for i in range(50)]
    assert refused(bedrock.tag_resource, resourceARN=arn, tags=many)[0] == "TooManyTagsException"
    missing = arn[: -len("x")] + ("a" if not arn.endswith("a") else "b")
    assert refused(bedrock.list_tags_for_resource, resourceARN=missing)[0] == "ResourceNotFoundException"


def test_names_are_unique_per_account_and_region(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    taken = name()
    bedrock.create_guardrail(name=taken, **MESSAGES, wordPolicyConfig=WORDS)
    assert (
        refused(bedrock.create_guardrail, name=taken, **MESSAGES, wordPolicyConfig=WORDS)[0]
        == "ConflictException"
    )


def test_another_regions_guardrail_is_not_found(client: Callable[..., Any], server: RunningServer) -> None:
    arn = create(client("bedrock"))["guardrailArn"]
    elsewhere = boto3.client(
        "bedrock", endpoint_url=server.endpoint, region_name="eu-west-1",
        aws_access_key_id="AKIAOUTCROPTEST", aws_secret_access_key="test-secret",
    )  # fmt: skip
    assert refused(elsewhere.get_guardrail, guardrailIdentifier=arn)[0] == "ResourceNotFoundException"


BAD_POLICIES: list[tuple[dict[str, Any], str]] = [
    ({}, "at least one policy"),
    (
        {
            "contentPolicyConfig": {
                "filtersConfig": [
                    {"type": "PROMPT_ATTACK", "inputStrength": "HIGH", "outputStrength": "HIGH"}
                ]
            }
        },
        "PROMPT_ATTACK content filter outputStrength must be NONE",
    ),
    (
        {
            "contentPolicyConfig": {
                "filtersConfig": [{"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"}] * 2
            }
        },
        "more than once",
    ),
    (
        {
            "contentPolicyConfig": {
                "filtersConfig": [
                    {
                        "type": "HATE",
                        "inputStrength": "HIGH",
                        "outputStrength": "HIGH",
                        "inputModalities": ["TEXT", "IMAGE"],
                    }
                ]
            }
        },
        "IMAGE modality",
    ),
    (
        {
            "contentPolicyConfig": {
                "filtersConfig": [{"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"}],
                "tierConfig": {"tierName": "STANDARD"},
            }
        },
        "STANDARD tier",
    ),
    (
        {
            "sensitiveInformationPolicyConfig": {
                "regexesConfig": [{"name": f"r{i}", "pattern": "x", "action": "BLOCK"} for i in range(11)]
            }
        },
        "at most 10 regexes",
    ),
    (
        {
            "sensitiveInformationPolicyConfig": {
                "regexesConfig": [{"name": "bad", "pattern": "(unclosed", "action": "BLOCK"}]
            }
        },
        "invalid pattern",
    ),
    (
        {
            "sensitiveInformationPolicyConfig": {
                "piiEntitiesConfig": [{"type": "PASSWORD", "action": "BLOCK"}]
            }
        },
        "PASSWORD",
    ),
    (
        {"contextualGroundingPolicyConfig": {"filtersConfig": [{"type": "GROUNDING", "threshold": 0.995}]}},
        "between 0 and 0.99",
    ),
    (
        {
            "automatedReasoningPolicyConfig": {
                "policies": ["arn:aws:bedrock:us-east-1:000000000000:automated-reasoning-policy/abcdefghijkl"]
            }
        },
        "automatedReasoningPolicyConfig is not supported",
    ),
    (
        {"wordPolicyConfig": WORDS, "crossRegionConfig": {"guardrailProfileIdentifier": "eu.guardrail.v1:0"}},
        "not served in us-east-1",
    ),
    ({"wordPolicyConfig": WORDS, "kmsKeyId": "alias/mine"}, "kmsKeyId is not supported"),
    ({"wordPolicyConfig": {"wordsConfig": [{"text": "Crypto"}, {"text": "crypto"}]}}, "more than once"),
]


@pytest.mark.parametrize(("policies", "message"), BAD_POLICIES)
def test_bad_policies_are_refused_with_a_reason(
    client: Callable[..., Any], policies: dict[str, Any], message: str
) -> None:
    error, text = refused(client("bedrock").create_guardrail, name=name(), **MESSAGES, **policies)
    assert error == "ValidationException" and message in text


def test_the_model_constraints_hold(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    topics = [{"name": f"t{i}", "definition": "d", "type": "DENY"} for i in range(31)]
    assert refused(
        bedrock.create_guardrail, name=name(), **MESSAGES, topicPolicyConfig={"topicsConfig": topics}
    )[0] == ("ValidationException")
    long_definition = [{"name": "t", "definition": "d" * 201, "type": "DENY"}]
    assert (
        refused(
            bedrock.create_guardrail,
            name=name(),
            **MESSAGES,
            topicPolicyConfig={"topicsConfig": long_definition},
        )[0]
        == "ValidationException"
    )
    assert (
        refused(bedrock.create_guardrail, name="bad name!", **MESSAGES, wordPolicyConfig=WORDS)[0]
        == "ValidationException"
    )
    guardrail_id = create(bedrock)["guardrailId"]
    for version in ("0", "draft", "1.0"):
        assert refused(bedrock.get_guardrail, guardrailIdentifier=guardrail_id, guardrailVersion=version)[
            0
        ] == ("ValidationException")
    assert refused(bedrock.get_guardrail, guardrailIdentifier=guardrail_id, guardrailVersion="7")[0] == (
        "ResourceNotFoundException"
    )
    assert (
        refused(bedrock.get_guardrail, guardrailIdentifier="zzzzzzzzzzzz")[0] == "ResourceNotFoundException"
    )


def test_a_guardrail_profile_of_the_callers_geo_is_kept(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    made = bedrock.create_guardrail(
        name=name(), **MESSAGES, wordPolicyConfig=WORDS,
        crossRegionConfig={"guardrailProfileIdentifier": "us.guardrail.v1:0"},
    )  # fmt: skip
    details = bedrock.get_guardrail(guardrailIdentifier=made["guardrailId"])["crossRegionDetails"]
    assert details == {
        "guardrailProfileId": "us.guardrail.v1:0",
        "guardrailProfileArn": "arn:aws:bedrock:us-east-1:000000000000:guardrail-profile/us.guardrail.v1:0",
    }


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path / "data").start()
    yield running
    running.stop()


def test_guardrails_survive_a_restart(own_server: RunningServer) -> None:
    bedrock = own_server.client("bedrock")
    made = create(bedrock)
    bedrock.create_guardrail_version(guardrailIdentifier=made["guardrailId"], description="kept")
    bedrock.tag_resource(resourceARN=made["guardrailArn"], tags=[{"key": "k", "value": "v"}])
    own_server.restart()
    bedrock = own_server.client("bedrock")
    assert (
        bedrock.get_guardrail(guardrailIdentifier=made["guardrailId"], guardrailVersion="1")["description"]
        == "kept"
    )
    assert bedrock.list_tags_for_resource(resourceARN=made["guardrailArn"])["tags"] == [
        {"key": "k", "value": "v"}
    ]
    assert bedrock.create_guardrail_version(guardrailIdentifier=made["guardrailId"])["version"] == "2"


def test_inputs_botocore_would_stop_are_refused_by_the_server(server: RunningServer) -> None:
    unchecked = server.client("bedrock", parameter_validation=False)
    for policies in [
        {"contextualGroundingPolicyConfig": {"filtersConfig": [{"type": "GROUNDING", "threshold": -1}]}},
        {"contentPolicyConfig": {"filtersConfig": [{"inputStrength": "HIGH", "outputStrength": "HIGH"}]}},
        {
            "sensitiveInformationPolicyConfig": {
                "piiEntitiesConfig": [{"type": "SECRET_SAUCE", "action": "BLOCK"}]
            }
        },
        {"wordPolicyConfig": {"wordsConfig": []}},
        {"topicPolicyConfig": {"topicsConfig": [{"name": "t", "definition": "d", "type": "ALLOW"}]}},
    ]:
        assert (
            refused(unchecked.create_guardrail, name=name(), **MESSAGES, **policies)[0]
            == "ValidationException"
        )
    runtime = server.client("bedrock-runtime", parameter_validation=False)
    guardrail_id = create(server.client("bedrock"))["guardrailId"]
    for kwargs in [
        {"guardrailVersion": "DRAFT", "source": "SIDEWAYS", "content": [{"text": {"text": "hi"}}]},
        {"guardrailVersion": "v1", "source": "INPUT", "content": [{"text": {"text": "hi"}}]},
        {"guardrailVersion": "DRAFT", "source": "INPUT", "content": [{"text": {}}]},
        {"guardrailVersion": "DRAFT", "source": "INPUT", "content": [{}]},
    ]:
        assert (
            refused(runtime.apply_guardrail, guardrailIdentifier=guardrail_id, **kwargs)[0]
            == "ValidationException"
        )
