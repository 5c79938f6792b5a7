"""Clients of one server in two regions, for the tests that resources live in the region that made them."""

from __future__ import annotations

import uuid
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


def regional_bucket(server: RunningServer, region: str, prefix: str, **objects: bytes | str) -> str:
    """A new bucket named `prefix-<random>` in `region`, holding `objects` (key -> body)."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    s3 = regional(server, "s3", region)
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **config)
    for key, body in objects.items():
        s3.put_object(Bucket=name, Key=key, Body=body.encode() if isinstance(body, str) else body)
    return name
