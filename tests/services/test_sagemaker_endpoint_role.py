"""Under `auth = "iam"` an endpoint's workers (the model server) run with an STS session of the model's
ExecutionRoleArn, so the inference script's boto3 calls back into Outcrop are authorized as that role
(session `SageMaker`, as on AWS); a model whose role SageMaker may not assume is refused at CreateModel."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from tests.errors import error_of
from tests.iam.fixtures import execution_role_server
from tests.sagemaker_hosting.archives import tar_gz
from tests.server import RunningServer

ACCOUNT = "000000000000"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
INFERENCE = b"""
import json, os
import boto3
from botocore.exceptions import ClientError


def model_fn(model_dir):
    return {}


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(data, model):
    seen = {"identity": boto3.client("sts").get_caller_identity()["Arn"]}
    seen["token"] = bool(os.environ.get("AWS_SESSION_TOKEN"))
    seen["region"] = os.environ.get("AWS_REGION")
    for bucket in data["buckets"]:
        try:
            data = boto3.client("s3").get_object(Bucket=bucket, Key="data.txt")
            seen[bucket] = data["Body"].read().decode()
        except ClientError as exc:
            seen[bucket] = exc.response["Error"]["Code"]
    return seen


def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with execution_role_server(
        tmp_path_factory.mktemp("sagemaker-endpoint-role") / "data",
        role="server",
        service="sagemaker.amazonaws.com",
        buckets=("endpoint-role-allowed", "endpoint-role-other"),
    ) as running:
        running.client("s3").put_object(
            Bucket="endpoint-role-allowed",
            Key="model.tar.gz",
            Body=tar_gz({"code/inference.py": INFERENCE}),
        )
        yield running


def test_the_endpoints_workers_act_as_the_models_role(server: RunningServer) -> None:
    sm, name = server.client("sagemaker"), f"role-endpoint-{uuid.uuid4().hex[:8]}"
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/server",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://endpoint-role-allowed/model.tar.gz"},
    )
    variant = {
        "VariantName": "main",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    with contextlib.suppress(WaiterError):
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    described = sm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    body = json.dumps({"buckets": ["endpoint-role-allowed", "endpoint-role-other"]})
    answer = server.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, Body=body, ContentType="application/json"
    )
    seen: dict[str, Any] = json.loads(answer["Body"].read())
    assert seen["identity"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/server/SageMaker"
    assert seen["token"] is True
    assert seen["region"] == server.client("sagemaker").meta.region_name
    assert seen["endpoint-role-allowed"] == "from endpoint-role-allowed"
    assert seen["endpoint-role-other"] == "AccessDenied"  # the role may read one bucket only
    sm.delete_endpoint(EndpointName=name)


def test_a_model_role_sagemaker_may_not_assume_is_refused(server: RunningServer) -> None:
    sm = server.client("sagemaker")
    role = f"arn:aws:iam::{ACCOUNT}:role/for-ec2"
    container = {"Image": IMAGE, "ModelDataUrl": "s3://endpoint-role-allowed/model.tar.gz"}
    refused = error_of(
        sm.create_model, ModelName="ec2-model", ExecutionRoleArn=role, PrimaryContainer=container
    )
    assert refused["Code"] == "ValidationException" and refused["Status"] == 400
    assert refused["Message"] == (
        f"Could not assume role {role}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role."
    )
    assert error_of(sm.describe_model, ModelName="ec2-model")["Code"] == "ValidationException"
