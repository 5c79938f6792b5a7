"""Under `auth = "iam"` a processing job's command runs with its RoleArn's STS credentials, so its boto3 calls
back into Outcrop are authorized as that role (session `SageMaker`, as on AWS); a role SageMaker may not
assume is refused at CreateProcessingJob."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.iam.fixtures import execution_role_server
from tests.server import RunningServer
from tests.services.test_sagemaker_processing import Processing

ACCOUNT = "000000000000"
SCRIPT = """
import json, os
import boto3
from botocore.exceptions import ClientError

seen = {"identity": boto3.client("sts").get_caller_identity()["Arn"]}
seen["token"] = bool(os.environ.get("AWS_SESSION_TOKEN"))
for bucket in ("proc-role-allowed", "proc-role-other"):
    try:
        seen[bucket] = boto3.client("s3").get_object(Bucket=bucket, Key="data.txt")["Body"].read().decode()
    except ClientError as exc:
        seen[bucket] = exc.response["Error"]["Code"]
os.makedirs("/opt/ml/processing/output/test", exist_ok=True)
json.dump(seen, open("/opt/ml/processing/output/test/seen.json", "w"))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with execution_role_server(
        tmp_path_factory.mktemp("sagemaker-processing-role") / "data",
        role="processor",
        service="sagemaker.amazonaws.com",
        buckets=("proc-role-allowed", "proc-role-other"),
    ) as running:
        yield running


def test_the_processing_command_acts_as_the_jobs_role(server: RunningServer) -> None:
    processing = Processing(server.client)
    request = processing.request(SCRIPT, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/processor")
    name = request["ProcessingJobName"]
    processing.sm.create_processing_job(**request)
    described = processing.wait(name)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    key = f"{name}/output/test/seen.json"
    seen: dict[str, Any] = json.loads(
        processing.s3.get_object(Bucket=processing.bucket, Key=key)["Body"].read()
    )
    assert seen["identity"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/processor/SageMaker"
    assert seen["token"] is True
    assert seen["proc-role-allowed"] == "from proc-role-allowed"
    assert seen["proc-role-other"] == "AccessDenied"  # the role may read one bucket only


def test_a_role_sagemaker_may_not_assume_is_refused(server: RunningServer) -> None:
    processing = Processing(server.client)
    role = f"arn:aws:iam::{ACCOUNT}:role/for-ec2"
    refused = error_of(processing.sm.create_processing_job, **processing.request(SCRIPT, RoleArn=role))
    assert refused["Code"] == "ValidationException" and refused["Status"] == 400
    assert refused["Message"] == (
        f"Could not assume role {role}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role."
    )
    missing = error_of(
        processing.sm.create_processing_job,
        **processing.request(SCRIPT, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nobody"),
    )
    assert missing["Code"] == "ValidationException" and "Could not assume role" in missing["Message"]
