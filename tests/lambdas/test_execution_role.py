"""Under `auth = "iam"` a function runs with its execution role's STS credentials (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, as Lambda sets them), so its calls back into Outcrop are
authorized as that role: a role that may read one bucket is denied another."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.iam.fixtures import execution_role_server
from tests.server import RunningServer

ACCOUNT = "000000000000"
HANDLER = """
import os
import boto3
from botocore.exceptions import ClientError


def handler(event, context):
    identity = boto3.client("sts").get_caller_identity()["Arn"]
    try:
        body = boto3.client("s3").get_object(Bucket=event["bucket"], Key="data.txt")["Body"].read()
        return {"identity": identity, "body": body.decode(), "token": bool(os.environ["AWS_SESSION_TOKEN"])}
    except ClientError as exc:
        return {"identity": identity, "error": exc.response["Error"]["Code"],
                "message": exc.response["Error"]["Message"]}
"""


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with execution_role_server(
        tmp_path_factory.mktemp("lambda-role") / "data",
        role="reader",
        service="lambda.amazonaws.com",
        buckets=("allowed-bucket", "other-bucket"),
    ) as running:
        yield running


def create(server: RunningServer, name: str, role: str) -> Any:
    lam = server.client("lambda")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=f"arn:aws:iam::{ACCOUNT}:role/{role}",
        Handler="app.handler",
        Code={"ZipFile": package()},
        Timeout=30,
    )
    return lam


def invoke(lam: Any, name: str, bucket: str) -> dict[str, Any]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"bucket": bucket}).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()
    result: dict[str, Any] = json.loads(answer["Payload"].read())
    return result


def test_a_function_acts_as_its_role(server: RunningServer) -> None:
    lam = create(server, "reader-fn", "reader")
    allowed = invoke(lam, "reader-fn", "allowed-bucket")
    assert allowed["identity"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/reader-fn"
    assert allowed["body"] == "from allowed-bucket" and allowed["token"] is True
    denied = invoke(lam, "reader-fn", "other-bucket")
    assert denied["error"] == "AccessDenied"
    assert denied["message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/reader-fn is not authorized to perform: "
        "s3:GetObject on resource: arn:aws:s3:::other-bucket/data.txt because no identity-based policy "
        "allows the s3:GetObject action"
    )


def test_a_role_lambda_may_not_assume_fails_the_invocation(server: RunningServer) -> None:
    lam = create(server, "ec2-fn", "for-ec2")
    refused = error_of(lam.invoke, FunctionName="ec2-fn", Payload=b"{}")
    assert refused["Code"] == "InvalidParameterValueException" and refused["Status"] == 400
    assert refused["Message"] == "The role defined for the function cannot be assumed by Lambda."
