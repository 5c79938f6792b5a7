"""A SageMaker Python SDK session pointed at a running Outcrop, as a user would set one up."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

import sagemaker  # type: ignore[import-untyped]

from tests.server import RunningServer


@contextmanager
def sdk_session(server: RunningServer, bucket_prefix: str) -> Iterator[Any]:
    """`AWS_ENDPOINT_URL` set for the SDK's own clients, a default bucket given (without one the SDK asks
    AWS's STS at a fixed address for the account id) and telemetry off (it posts to an AWS-hosted URL)."""
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    boto_session = boto3.Session(
        aws_access_key_id="AKIAOUTCROPSDK", aws_secret_access_key="sdk-secret", region_name="us-east-1"
    )
    try:
        yield sagemaker.Session(
            boto_session=boto_session,
            sagemaker_client=boto_session.client("sagemaker", endpoint_url=server.endpoint),
            sagemaker_runtime_client=boto_session.client("sagemaker-runtime", endpoint_url=server.endpoint),
            default_bucket=f"{bucket_prefix}-{uuid.uuid4().hex[:8]}",
            sagemaker_config={
                "SchemaVersion": "1.0",
                "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
            },
        )
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
