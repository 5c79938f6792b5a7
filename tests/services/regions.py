"""Clients of one server in two regions, for the tests that resources live in the region that made them."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from tests.server import RunningServer

HOME, AWAY = "eu-west-1", "us-east-1"


def regional(server: RunningServer, service: str, region: str, **config: Any) -> Any:
    """A boto3 client as the server's own, signed for `region` (the region its credential scope names)."""
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id="AKIAOUTCROPTEST",
        aws_secret_access_key="test-secret",
        config=Config(retries={"max_attempts": 1}, read_timeout=300, **config),
    )


def arn_region(arn: str) -> str:
    """The region field of an ARN."""
    return arn.split(":")[3]
