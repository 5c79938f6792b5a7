"""The authorizer's remembered action and resource ARN per input (`_target`): the same answer `target`
gives for every input, remembered only for inputs of plain values (never an object's body, a list or a
boolean), and one entry per distinct input."""

from __future__ import annotations

from typing import Any

import pytest

from outcrop.iam import authorizer
from outcrop.iam.actions import target

ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def empty_memo() -> None:
    authorizer._TARGETS.clear()


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("s3", "HeadBucket", {"Bucket": "data"}),
        ("s3", "GetObject", {"Bucket": "data", "Key": "a/b.txt"}),
        ("s3", "ListObjectsV2", {"Bucket": "data", "MaxKeys": 5, "Prefix": "a/"}),
        ("bedrock-runtime", "InvokeModel", {"modelId": "amazon.titan-text-express-v1", "body": b"{}"}),
        ("bedrock-runtime", "Converse", {"modelId": "us.meta.llama3-2-1b-instruct-v1:0", "messages": []}),
    ],
)
def test_the_memo_answers_as_target_does(service: str, operation: str, params: dict[str, Any]) -> None:
    expected = target(service, operation, params, "eu-west-1", ACCOUNT)
    assert authorizer._target(service, operation, params, "eu-west-1", ACCOUNT) == expected
    assert authorizer._target(service, operation, params, "eu-west-1", ACCOUNT) == expected  # remembered


def test_only_plain_inputs_are_remembered_and_each_input_has_its_own_entry() -> None:
    first = authorizer._target("s3", "GetObject", {"Bucket": "data", "Key": "a"}, "us-east-1", ACCOUNT)
    second = authorizer._target("s3", "GetObject", {"Bucket": "data", "Key": "b"}, "us-east-1", ACCOUNT)
    other_region = authorizer._target("s3", "HeadBucket", {"Bucket": "x"}, "us-east-1", ACCOUNT)
    assert (first.resource, second.resource) == ("arn:aws:s3:::data/a", "arn:aws:s3:::data/b")
    assert other_region.action == "s3:ListBucket"
    assert len(authorizer._TARGETS) == 3
    body = {"Bucket": "data", "Key": "c", "Body": b"secret bytes"}
    assert authorizer._target("s3", "PutObject", body, "us-east-1", ACCOUNT).resource == "arn:aws:s3:::data/c"
    flagged = {"Bucket": "data", "Key": "d", "BypassGovernanceRetention": True}
    assert authorizer._target("s3", "DeleteObject", flagged, "us-east-1", ACCOUNT).action == "s3:DeleteObject"
    assert len(authorizer._TARGETS) == 3  # a body or a boolean in the input: worked out afresh, not kept


def test_a_model_in_another_region_or_account_is_another_arn() -> None:
    params = {"modelId": "amazon.titan-text-express-v1"}
    here = authorizer._target("bedrock-runtime", "InvokeModel", params, "us-east-1", ACCOUNT)
    there = authorizer._target("bedrock-runtime", "InvokeModel", params, "eu-west-1", ACCOUNT)
    inference = {"modelId": "us.amazon.nova-lite-v1:0"}
    mine = authorizer._target("bedrock-runtime", "InvokeModel", inference, "us-east-1", ACCOUNT)
    theirs = authorizer._target("bedrock-runtime", "InvokeModel", inference, "us-east-1", "210987654321")
    assert here.resource == "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1"
    assert there.resource == "arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-text-express-v1"
    assert mine.resource != theirs.resource and "210987654321" in theirs.resource
