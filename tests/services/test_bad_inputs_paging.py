"""NextToken paging over the wire, for every service that pages: a token the server did not issue (garbage,
5,000 digits, a plain offset) answers a 400 with the error the operation models, never a 500; an explicit
`null` size or token is as if absent; and following the tokens the server gives walks every item once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.bad_inputs import unhandled_errors, unique

HUGE = "9" * 5000
BAD_TOKENS = ["not a token!", "zz", "12", HUGE]


@pytest.fixture(scope="module", autouse=True)
def log_start(server: RunningServer) -> int:
    """Where the server log stood before this module's calls."""
    return server.log_path.stat().st_size


@pytest.fixture(scope="module")
def names(server: RunningServer) -> dict[str, str]:
    """A bucket, a log group with a stream and a face collection to page through."""
    bucket, group, collection = unique("paging"), unique("/paging"), unique("paging")
    server.client("s3").create_bucket(Bucket=bucket)
    logs = server.client("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    server.client("rekognition").create_collection(CollectionId=collection)
    return {"bucket": bucket, "group": group, "collection": collection}


# (service, operation, its required arguments, the error its model gives a bad token, the token member)
CASES: list[tuple[str, str, Callable[[dict[str, str]], dict[str, Any]], str, str]] = [
    ("translate", "list_languages", lambda n: {}, "InvalidParameterValueException", "NextToken"),
    ("translate", "list_terminologies", lambda n: {}, "InvalidParameterValueException", "NextToken"),
    ("transcribe", "list_transcription_jobs", lambda n: {}, "BadRequestException", "NextToken"),
    ("transcribe", "list_vocabularies", lambda n: {}, "BadRequestException", "NextToken"),
    ("polly", "list_speech_synthesis_tasks", lambda n: {}, "InvalidNextTokenException", "NextToken"),
    ("rekognition", "list_collections", lambda n: {}, "InvalidPaginationTokenException", "NextToken"),
    (
        "rekognition",
        "list_faces",
        lambda n: {"CollectionId": n["collection"]},
        "InvalidPaginationTokenException",
        "NextToken",
    ),
    ("logs", "describe_log_groups", lambda n: {}, "InvalidParameterException", "nextToken"),
    (
        "logs",
        "describe_log_streams",
        lambda n: {"logGroupName": n["group"]},
        "InvalidParameterException",
        "nextToken",
    ),
    (
        "logs",
        "filter_log_events",
        lambda n: {"logGroupName": n["group"]},
        "InvalidParameterException",
        "nextToken",
    ),
    ("lambda", "list_functions", lambda n: {}, "InvalidParameterValueException", "Marker"),
    ("s3", "list_buckets", lambda n: {}, "InvalidArgument", "ContinuationToken"),
    ("s3", "list_objects_v2", lambda n: {"Bucket": n["bucket"]}, "InvalidArgument", "ContinuationToken"),
    ("cloudwatch", "list_metrics", lambda n: {}, "InvalidParameterValue", "NextToken"),
    ("bedrock-agent", "list_knowledge_bases", lambda n: {}, "ValidationException", "nextToken"),
    ("sagemaker", "list_models", lambda n: {}, "ValidationException", "NextToken"),
    ("sagemaker", "list_endpoints", lambda n: {}, "ValidationException", "NextToken"),
    ("sagemaker", "list_training_jobs", lambda n: {}, "ValidationException", "NextToken"),
    ("sagemaker", "list_model_package_groups", lambda n: {}, "ValidationException", "NextToken"),
]


@pytest.mark.parametrize(("service", "operation", "required", "code", "member"), CASES)
def test_tokens_the_server_did_not_issue_are_the_modelled_400(
    server: RunningServer,
    names: dict[str, str],
    service: str,
    operation: str,
    required: Callable[[dict[str, str]], dict[str, Any]],
    code: str,
    member: str,
) -> None:
    call = getattr(server.client(service, parameter_validation=False), operation)
    for token in BAD_TOKENS:
        error = error_of(call, **required(names), **{member: token})
        assert error["Status"] == 400, (token[:20], error)
        # A 5,000-digit token may already be over the model's length limit: the generic validator answers.
        assert error["Code"] == code or (token is HUGE and error["Code"] == "ValidationException"), error


def _with_nulls(body: dict[str, Any]) -> Callable[..., None]:
    """A before-sign hook that sends `body`'s members as JSON, nulls included (boto3 drops None)."""

    def hook(request: Any, **_: Any) -> None:
        sent = json.loads(request.data or b"{}")
        request.data = json.dumps({**sent, **body}).encode()

    return hook


@pytest.mark.parametrize(
    ("service", "operation", "nulls"),
    [
        ("translate", "list_languages", {"MaxResults": None, "NextToken": None}),
        ("transcribe", "list_vocabularies", {"MaxResults": None, "NextToken": None}),
        ("rekognition", "list_collections", {"MaxResults": None, "NextToken": None}),
        ("logs", "describe_log_groups", {"limit": None, "nextToken": None}),
        ("bedrock-agent", "list_knowledge_bases", {"maxResults": None, "nextToken": None}),
        ("sagemaker", "list_models", {"MaxResults": None, "NextToken": None}),
    ],
)
def test_null_sizes_and_tokens_are_as_if_absent(
    server: RunningServer, service: str, operation: str, nulls: dict[str, Any]
) -> None:
    client = server.client(service)
    plain = getattr(client, operation)()
    client.meta.events.register("before-sign", _with_nulls(nulls))
    answer = getattr(client, operation)()
    for response in (plain, answer):
        response.pop("ResponseMetadata")
    assert answer == plain


def test_following_the_tokens_walks_every_item_once(server: RunningServer) -> None:
    s3, logs = server.client("s3"), server.client("logs")
    prefix = unique("/walk")
    groups = [f"{prefix}/{i:02d}" for i in range(7)]
    for group in groups:
        logs.create_log_group(logGroupName=group)
    seen = [
        g["logGroupName"]
        for page in logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 3}
        )
        for g in page["logGroups"]
    ]
    assert seen == groups
    bucket = unique("walk")
    s3.create_bucket(Bucket=bucket)
    keys = [f"k/{i:02d}" for i in range(7)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    listed = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 3}
        )
        for o in page["Contents"]
    ]
    assert listed == keys


def test_the_server_log_shows_no_unhandled_error(server: RunningServer, log_start: int) -> None:
    """Runs last: every refusal above was a modelled error, not an unhandled exception."""
    assert not unhandled_errors(server, log_start)
