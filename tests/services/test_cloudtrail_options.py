"""CreateTrail's TagsList (trail tags are not served: refused unless empty) and RecursiveLogging
(accepted either way: trails deliver management events only, so CloudTrail's own writes are never
among them)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.errors import error_of


def test_tags_are_refused_and_recursive_logging_is_accepted(client: Callable[..., Any]) -> None:
    cloudtrail, s3 = client("cloudtrail"), client("s3")
    bucket = f"trail-opts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    name = f"opts-{uuid.uuid4().hex[:6]}"
    refused = error_of(
        cloudtrail.create_trail, Name=name, S3BucketName=bucket, TagsList=[{"Key": "team", "Value": "ml"}]
    )
    assert refused["Code"] == "UnsupportedOperationException" and "TagsList" in refused["Message"]
    assert error_of(cloudtrail.get_trail, Name=name)["Code"] == "TrailNotFoundException"  # nothing made
    made = cloudtrail.create_trail(Name=name, S3BucketName=bucket, TagsList=[], RecursiveLogging=False)
    assert made["Name"] == name
    cloudtrail.update_trail(Name=name, RecursiveLogging=True)
    assert cloudtrail.get_trail(Name=name)["Trail"]["S3BucketName"] == bucket
