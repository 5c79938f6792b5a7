"""Under `auth = "iam"` a training job's script runs with its RoleArn's STS credentials, so its boto3 calls
back into Outcrop are authorized as that role (session `SageMaker`, as on AWS); a role SageMaker may not
assume is refused at CreateTrainingJob."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.iam.fixtures import execution_role_server
from tests.server import RunningServer
from tests.services.test_sagemaker_training import Jobs, untar

ACCOUNT = "000000000000"
SCRIPT = """
import json, os
import boto3
from botocore.exceptions import ClientError

seen = {"identity": boto3.client("sts").get_caller_identity()["Arn"]}
seen["token"] = bool(os.environ["AWS_SESSION_TOKEN"])
for bucket in (os.environ["SM_HP_ALLOWED"], os.environ["SM_HP_OTHER"]):
    try:
        seen[bucket] = boto3.client("s3").get_object(Bucket=bucket, Key="data.txt")["Body"].read().decode()
    except ClientError as exc:
        seen[bucket] = exc.response["Error"]["Code"]
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as handle:
    json.dump(seen, handle)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with execution_role_server(
        tmp_path_factory.mktemp("sagemaker-role") / "data",
        role="trainer",
        service="sagemaker.amazonaws.com",
        buckets=("role-allowed", "role-other"),
    ) as running:
        yield running


def test_the_training_script_acts_as_the_jobs_role(server: RunningServer) -> None:
    jobs = Jobs(server.client)
    name = jobs.create(
        hyperparameters={"sagemaker_program": "role.py", "allowed": "role-allowed", "other": "role-other"},
        extra_files={"role.py": SCRIPT},
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/trainer",
    )
    described = jobs.wait(name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    key = described["ModelArtifacts"]["S3ModelArtifacts"].split(f"s3://{jobs.bucket}/", 1)[1]
    model = untar(jobs.s3.get_object(Bucket=jobs.bucket, Key=key)["Body"].read())
    seen: dict[str, Any] = json.loads(model["seen.json"])
    assert seen["identity"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/trainer/SageMaker"
    assert seen["token"] is True
    assert seen["role-allowed"] == "from role-allowed"
    assert seen["role-other"] == "AccessDenied"  # the role may read one bucket only


def test_a_role_sagemaker_may_not_assume_is_refused(server: RunningServer) -> None:
    jobs = Jobs(server.client)
    role = f"arn:aws:iam::{ACCOUNT}:role/for-ec2"
    refused = error_of(jobs.create, RoleArn=role)
    assert refused["Code"] == "ValidationException" and refused["Status"] == 400
    assert refused["Message"] == (
        f"Could not assume role {role}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role."
    )
    missing = error_of(jobs.create, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nobody")
    assert missing["Code"] == "ValidationException" and "Could not assume role" in missing["Message"]
