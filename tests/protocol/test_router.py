"""Routing by path when several services share a signing name."""

from __future__ import annotations

from outcrop.protocol.router import Router, service_hint_from_user_agent

BEDROCK_FAMILY = ["bedrock", "bedrock-runtime", "bedrock-agent", "bedrock-agent-runtime"]


def test_bedrock_services_are_told_apart_by_path() -> None:
    router = Router(BEDROCK_FAMILY)
    converse = router.by_path(
        "POST", "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", {}, signing_name="bedrock"
    )
    assert converse is not None
    assert (converse.service, converse.operation.name) == ("bedrock-runtime", "Converse")
    assert converse.labels == {"modelId": "anthropic.claude-3-haiku-20240307-v1:0"}
    models = router.by_path("GET", "/foundation-models", {}, signing_name="bedrock")
    assert models is not None and (models.service, models.operation.name) == (
        "bedrock",
        "ListFoundationModels",
    )
    retrieve = router.by_path("POST", "/knowledgebases/KB12345678/retrieve", {}, signing_name="bedrock")
    assert retrieve is not None and retrieve.service == "bedrock-agent-runtime"


def test_user_agent_breaks_ties_between_identical_uris() -> None:
    router = Router(BEDROCK_FAMILY)
    arn = "arn%3Aaws%3Abedrock%3Aus-east-1%3A000000000000%3Aagent%2FAGENT12345"
    for service in ("bedrock-agent", "bedrock-agent-runtime"):
        found = router.by_path("GET", f"/tags/{arn}", {}, signing_name="bedrock", service_hint=service)
        assert found is not None and found.service == service
        assert found.operation.name == "ListTagsForResource"


def test_user_agent_hint_is_read_from_botocore_user_agent() -> None:
    agent = (
        "Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux#6 md/arch#x86_64 lang/python#3.11.7"
        " api/bedrock-agent#1.44.8"
    )
    assert service_hint_from_user_agent(agent) == "bedrock-agent"
    assert service_hint_from_user_agent("curl/8.0") is None


def test_json_targets_and_query_actions() -> None:
    router = Router(["logs", "sts", "sagemaker"])
    found = router.by_target("Logs_20140328.PutLogEvents")
    assert found is not None and (found.service, found.operation.name) == ("logs", "PutLogEvents")
    assert router.by_target("Logs_20140328.NoSuchThing") is None
    action = router.by_action("sts", "GetCallerIdentity")
    assert action is not None and action.service == "sts"


def test_s3_query_literals_pick_the_operation() -> None:
    router = Router(["s3"])
    listing = router.by_path("GET", "/bucket", {"list-type": ["2"]}, signing_name="s3")
    assert listing is not None and listing.operation.name == "ListObjectsV2"
    uploads = router.by_path("POST", "/bucket/a/b.txt", {"uploads": [""]}, signing_name="s3")
    assert uploads is not None and uploads.operation.name == "CreateMultipartUpload"
    assert uploads.labels == {"Bucket": "bucket", "Key": "a/b.txt"}
