"""Bedrock batch inference: a stop issued at the earliest moment is either refused, because the job had
ended, or honoured; never accepted and then lost to Completed or Failed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tests.services.test_bedrock_batch import claude, create_job, new_bucket, put_records, wait_job


def test_a_stop_at_the_earliest_moment_is_honoured_or_refused(client: Callable[..., Any]) -> None:
    s3, bedrock = client("s3"), client("bedrock")
    bucket = new_bucket(s3)
    put_records(
        s3, bucket, "two.jsonl", [{"recordId": f"R{i:010d}", "modelInput": claude("hi")} for i in range(2)]
    )
    for _ in range(4):
        arn = create_job(bedrock, f"s3://{bucket}/two.jsonl", f"s3://{bucket}/out/")
        try:
            bedrock.stop_model_invocation_job(jobIdentifier=arn)
        except ClientError as refused:  # it had already ended: the stop changes nothing
            assert refused.response["Error"]["Code"] == "ConflictException"
            job = wait_job(bedrock, arn)
            assert job["status"] == "Completed", job
            continue
        job = wait_job(bedrock, arn, seconds=60)
        assert job["status"] == "Stopped", job  # accepted: never Completed, Failed or left Stopping
