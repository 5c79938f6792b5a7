"""An `auth = "iam"` server and clients signed as its principals, for the IAM and STS tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.server import RunningServer

ROOT_ENV = {"OUTCROP_AUTH": "iam", "OUTCROP_CREDENTIALS": "AKIAOUTCROPTEST:test-secret"}


@contextmanager
def iam_server(data_dir: Path) -> Iterator[RunningServer]:
    server = RunningServer(data_dir, extra_env=ROOT_ENV).start()
    try:
        yield server
    finally:
        server.stop()


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
