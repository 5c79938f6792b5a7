"""An `auth = "iam"` server and clients signed as its principals, for the IAM and STS tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.server import RunningServer

ROOT_ENV = {"OUTCROP_AUTH": "iam", "OUTCROP_CREDENTIALS": "AKIAOUTCROPTEST:test-secret"}


@contextmanager
def iam_server(data_dir: Path) -> Iterator[RunningServer]:
    server = RunningServer(data_dir, extra_env=ROOT_ENV).start()
    try:
        yield server
    finally:
        server.stop()


def module_iam_server(name: str) -> tuple[Any, Any]:
    """A test module's `server` (an `iam` server of its own, data dir `name`) and `iam` (its root's IAM
    client) fixtures: `server, iam = module_iam_server("iam-mfa")`."""

    @pytest.fixture(scope="module", name="server")
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
        with iam_server(tmp_path_factory.mktemp(name) / "data") as running:
            yield running

    @pytest.fixture(scope="module", name="iam")
    def iam(server: RunningServer) -> Any:
        return server.client("iam")  # the [credentials] key: the account root

    return server, iam


def error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    """An AWS error as (code, message, HTTP status)."""
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def signed_as(server: RunningServer, service: str, credentials: dict[str, Any]) -> Any:
    """A client signing with an IAM access key (`AccessKey`) or STS credentials (`Credentials`)."""
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
        config=Config(retries={"max_attempts": 1}),
    )


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trust(service: str) -> str:
    """A role trust policy letting `service` (e.g. sagemaker.amazonaws.com) assume the role."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@contextmanager
def execution_role_server(
    data_dir: Path, *, role: str, service: str, buckets: tuple[str, str]
) -> Iterator[RunningServer]:
    """An `iam` server for execution-role tests: two buckets each holding data.txt, `role` (trusting
    `service`) that may read only the first, and `for-ec2`, a role the service may not assume."""
    allowed, _ = buckets
    with iam_server(data_dir) as running:
        iam, s3 = running.client("iam"), running.client("s3")
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="data.txt", Body=f"from {bucket}".encode())
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(service))
        iam.put_role_policy(
            RoleName=role,
            PolicyName="one-bucket",
            PolicyDocument=policy(allow("s3:GetObject", f"arn:aws:s3:::{allowed}/*")),
        )
        iam.create_role(RoleName="for-ec2", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"))
        yield running
