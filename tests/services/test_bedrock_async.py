"""Bedrock Runtime's asynchronous invocations through boto3: start, poll, read the answer from S3."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
TITAN_EMBED = "amazon.titan-embed-text-v2:0"
ARN = re.compile(r"arn:aws:bedrock:us-east-1:[0-9]{12}:async-invoke/[a-z0-9]{12}")


def claude(text: str) -> dict[str, Any]:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }


def new_bucket(s3: Any) -> str:
    name = f"async-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def start(runtime: Any, uri: str, body: Any, model: str = HAIKU, **extra: Any) -> str:
    arn: str = runtime.start_async_invoke(
        modelId=model, modelInput=body, outputDataConfig={"s3OutputDataConfig": {"s3Uri": uri}}, **extra
    )["invocationArn"]
    return arn


def wait(runtime: Any, arn: str, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        found: dict[str, Any] = runtime.get_async_invoke(invocationArn=arn)
        if found["status"] != "InProgress" or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def output(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return found


def test_an_async_invocation_writes_the_invoke_model_answer_to_s3(client: Callable[..., Any]) -> None:
    s3, runtime = client("s3"), client("bedrock-runtime")
    bucket = new_bucket(s3)
    token = uuid.uuid4().hex
    arn = start(runtime, f"s3://{bucket}/answers/", claude("tell me a story"), clientRequestToken=token)
    assert ARN.fullmatch(arn)
    done = wait(runtime, arn)
    assert done["status"] == "Completed" and "failureMessage" not in done
    assert done["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"
    assert done["clientRequestToken"] == token and done["endTime"] >= done["submitTime"]
    assert done["outputDataConfig"] == {"s3OutputDataConfig": {"s3Uri": f"s3://{bucket}/answers/"}}
    answer = output(s3, bucket, f"answers/{arn.rpartition('/')[2]}/output.json")
    direct = json.loads(
        runtime.invoke_model(modelId=HAIKU, body=json.dumps(claude("tell me a story")))["body"].read()
    )
    assert answer["content"] == direct["content"] == [{"type": "text", "text": "You said: tell me a story"}]
    assert answer["usage"] == direct["usage"]

    # The same token and request give the same invocation; the same token with another request conflicts.
    assert (
        start(runtime, f"s3://{bucket}/answers/", claude("tell me a story"), clientRequestToken=token) == arn
    )
    with pytest.raises(ClientError) as conflict:
        start(runtime, f"s3://{bucket}/answers/", claude("another"), clientRequestToken=token)
    assert conflict.value.response["Error"]["Code"] == "ConflictException"


def test_embedding_models_and_bucket_root_outputs(client: Callable[..., Any]) -> None:
    s3, runtime = client("s3"), client("bedrock-runtime")
    bucket = new_bucket(s3)
    arn = start(runtime, f"s3://{bucket}", {"inputText": "rivers and lakes", "dimensions": 256}, TITAN_EMBED)
    assert wait(runtime, arn)["status"] == "Completed"
    answer = output(s3, bucket, f"{arn.rpartition('/')[2]}/output.json")
    assert len(answer["embedding"]) == 256 and answer["inputTextTokenCount"] > 0


def test_a_missing_output_bucket_fails_the_invocation(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    failed = wait(runtime, start(runtime, "s3://no-such-async-bucket/out", claude("hello")))
    assert failed["status"] == "Failed"
    assert "no-such-async-bucket" in failed["failureMessage"] or "bucket" in failed["failureMessage"].lower()


def test_bad_requests_are_refused(client: Callable[..., Any]) -> None:
    s3 = client("s3")
    runtime = client("bedrock-runtime", parameter_validation=False)  # the server checks
    bucket = new_bucket(s3)
    uri = f"s3://{bucket}/out"

    def refused(body: Any = None, model: str = HAIKU, **config: Any) -> ClientError:
        sink = {"s3Uri": uri, **config}
        with pytest.raises(ClientError) as error:
            runtime.start_async_invoke(
                modelId=model,
                modelInput=claude("x") if body is None else body,
                outputDataConfig={"s3OutputDataConfig": sink},
            )
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        return error.value

    assert refused(model="no.such-model-v1:0").response["Error"]["Code"] == "ValidationException"
    # Video generation is what AWS serves through async invocation; it is not served here.
    reel = refused({"taskType": "TEXT_VIDEO"}, "amazon.nova-reel-v1:0").response["Error"]
    assert reel["Code"] == "ValidationException" and "not served locally" in reel["Message"]
    assert "Malformed input request" in refused(["a list"]).response["Error"]["Message"]
    assert refused({"max_tokens": 10}).response["Error"]["Code"] == "ValidationException"  # no messages
    kms = refused(kmsKeyId="arn:aws:kms:us-east-1:000000000000:alias/mine")
    assert "kmsKeyId" in kms.response["Error"]["Message"]
    assert refused(bucketOwner="123456789012").response["Error"]["Code"] == "ValidationException"

    with pytest.raises(ClientError) as missing:
        runtime.get_async_invoke(
            invocationArn="arn:aws:bedrock:us-east-1:000000000000:async-invoke/abcdefabcdef"
        )
    assert missing.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as token:
        runtime.list_async_invokes(nextToken="garbage")
    assert token.value.response["Error"]["Code"] == "ValidationException"


def test_list_filters_sorts_and_pages(client: Callable[..., Any]) -> None:
    s3, runtime = client("s3"), client("bedrock-runtime")
    bucket = new_bucket(s3)
    before = time.time() - 1
    arns = [start(runtime, f"s3://{bucket}/list", claude(f"item {i}")) for i in range(3)]
    for arn in arns:
        wait(runtime, arn)
    failed = start(runtime, "s3://no-such-async-bucket/x", claude("fails"))
    wait(runtime, failed)

    recent = runtime.list_async_invokes(submitTimeAfter=before)["asyncInvokeSummaries"]
    assert [item["invocationArn"] for item in recent][:4] == [failed, *arns[::-1]]  # newest first
    ascending = runtime.list_async_invokes(submitTimeAfter=before, sortOrder="Ascending")[
        "asyncInvokeSummaries"
    ]
    assert [item["invocationArn"] for item in ascending][-4:] == [*arns, failed]
    failures = runtime.list_async_invokes(submitTimeAfter=before, statusEquals="Failed")[
        "asyncInvokeSummaries"
    ]
    assert failed in [item["invocationArn"] for item in failures]
    assert all(item["status"] == "Failed" and item["failureMessage"] for item in failures)
    assert runtime.list_async_invokes(submitTimeBefore=before - 3600)["asyncInvokeSummaries"] == []
    page = runtime.list_async_invokes(submitTimeAfter=before, maxResults=2)
    assert len(page["asyncInvokeSummaries"]) == 2 and page["nextToken"]
    rest = runtime.list_async_invokes(submitTimeAfter=before, maxResults=2, nextToken=page["nextToken"])
    seen = [item["invocationArn"] for item in page["asyncInvokeSummaries"] + rest["asyncInvokeSummaries"]]
    assert len(set(seen)) == 4
    pages = runtime.get_paginator("list_async_invokes").paginate(
        submitTimeAfter=before, PaginationConfig={"PageSize": 1}
    )
    assert sum(len(found["asyncInvokeSummaries"]) for found in pages) >= 4


def test_an_unfinished_invocation_runs_again_after_a_restart(tmp_path: Path) -> None:
    running = RunningServer(tmp_path / "data").start()
    try:
        s3, runtime = running.client("s3"), running.client("bedrock-runtime")
        bucket = new_bucket(s3)
        arn = start(runtime, f"s3://{bucket}/out", claude("again please"))
        assert wait(runtime, arn)["status"] == "Completed"
        key = f"out/{arn.rpartition('/')[2]}/output.json"
        s3.delete_object(Bucket=bucket, Key=key)
        running.stop()
        # As if the server died while the model was answering: InProgress, no output yet.
        with sqlite3.connect(tmp_path / "data" / "bedrock-runtime" / "async-invokes.sqlite3") as conn:
            conn.execute("UPDATE invocations SET status = 'InProgress', ended = NULL")
        running.start()
        s3, runtime = running.client("s3"), running.client("bedrock-runtime")
        done = wait(runtime, arn)
        assert done["status"] == "Completed"
        assert output(s3, bucket, key)["content"][0]["text"] == "You said: again please"
    finally:
        running.stop()


@pytest.mark.real
def test_an_async_invocation_on_the_real_small_model(real_server: RunningServer) -> None:
    s3, runtime = real_server.client("s3"), real_server.client("bedrock-runtime")
    bucket = new_bucket(s3)
    body = claude("What is the capital of France? Answer in one word.")
    body["max_tokens"] = 8
    body["temperature"] = 0  # Claude's default is 1.0: a sampled word would make the check a coin toss
    arn = start(runtime, f"s3://{bucket}/real", body)
    done = wait(runtime, arn, seconds=300)
    assert done["status"] == "Completed", done.get("failureMessage")
    answer = output(s3, bucket, f"real/{arn.rpartition('/')[2]}/output.json")
    assert "paris" in answer["content"][0]["text"].lower()
