"""Bedrock's resources live in the region that made them: batch jobs, async invocations, application
inference profiles."""

from __future__ import annotations

import json
import uuid

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.regions import AWAY, HOME, arn_region, regional

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
ROLE = "arn:aws:iam::000000000000:role/BatchRole"
CLAUDE = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
}


def _bucket(server: RunningServer) -> str:
    s3 = regional(server, "s3", HOME)
    name = f"regions-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": HOME})
    s3.put_object(Bucket=name, Key="in/records.jsonl", Body=json.dumps({"modelInput": CLAUDE}).encode())
    return name


def test_a_batch_job_made_in_eu_west_1_is_invisible_from_us_east_1(server: RunningServer) -> None:
    home, away = regional(server, "bedrock", HOME), regional(server, "bedrock", AWAY)
    bucket, name = _bucket(server), f"job-{uuid.uuid4().hex[:10]}"

    def create(bedrock: object) -> str:
        arn: str = bedrock.create_model_invocation_job(  # type: ignore[attr-defined]
            jobName=name,
            roleArn=ROLE,
            modelId=HAIKU,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{bucket}/in/records.jsonl"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{bucket}/out/"}},
        )["jobArn"]
        return arn

    arn = create(home)
    assert arn_region(arn) == HOME
    assert home.get_model_invocation_job(jobIdentifier=arn)["jobName"] == name
    missing = error_of(away.get_model_invocation_job, jobIdentifier=arn)
    assert missing["Code"] == "ResourceNotFoundException"
    assert error_of(away.stop_model_invocation_job, jobIdentifier=arn)["Code"] == "ResourceNotFoundException"
    assert arn not in [j["jobArn"] for j in away.list_model_invocation_jobs()["invocationJobSummaries"]]
    assert arn in [j["jobArn"] for j in home.list_model_invocation_jobs()["invocationJobSummaries"]]
    # a job name is unique within a region only
    assert arn_region(create(away)) == AWAY
    assert error_of(lambda: create(home))["Code"] == "ConflictException"


def test_an_async_invocation_started_in_eu_west_1_is_invisible_from_us_east_1(server: RunningServer) -> None:
    home = regional(server, "bedrock-runtime", HOME)
    away = regional(server, "bedrock-runtime", AWAY)
    bucket = _bucket(server)
    arn = home.start_async_invoke(
        modelId=HAIKU,
        modelInput=CLAUDE,
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{bucket}/a"}},
    )["invocationArn"]
    assert arn_region(arn) == HOME
    assert home.get_async_invoke(invocationArn=arn)["invocationArn"] == arn
    assert error_of(away.get_async_invoke, invocationArn=arn)["Code"] == "ValidationException"
    assert arn not in [i["invocationArn"] for i in away.list_async_invokes()["asyncInvokeSummaries"]]
    assert arn in [i["invocationArn"] for i in home.list_async_invokes()["asyncInvokeSummaries"]]


def test_an_application_profile_made_in_eu_west_1_is_invisible_from_us_east_1(server: RunningServer) -> None:
    home, away = regional(server, "bedrock", HOME), regional(server, "bedrock", AWAY)
    name = f"profile-{uuid.uuid4().hex[:8]}"
    source = f"arn:aws:bedrock:{HOME}::foundation-model/{HAIKU}"
    arn = home.create_inference_profile(inferenceProfileName=name, modelSource={"copyFrom": source})[
        "inferenceProfileArn"
    ]
    assert arn_region(arn) == HOME
    assert home.get_inference_profile(inferenceProfileIdentifier=arn)["inferenceProfileName"] == name
    missing = error_of(away.get_inference_profile, inferenceProfileIdentifier=arn)
    assert missing["Code"] == "ResourceNotFoundException"
    listed = away.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]
    assert arn not in [p["inferenceProfileArn"] for p in listed]
