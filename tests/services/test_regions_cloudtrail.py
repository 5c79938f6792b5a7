"""CloudTrail per region: LookupEvents answers the calls made in the request's region only (each record's
awsRegion), and a trail lives in its home region, its ARN saying which; a multi-Region trail is seen from
the other regions as its shadow (DescribeTrails' includeShadowTrails, GetTrail) but is changed only from
home (InvalidHomeRegionException), and its name is taken in every region."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.regions import AWAY, HOME, arn_region, regional


@pytest.fixture(scope="module")
def trail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data = tmp_path_factory.mktemp("outcrop-cloudtrail-regions") / "data"
    running = RunningServer(data, extra_env={"OUTCROP_CLOUDTRAIL_DELIVERY_SECONDS": "1"}).start()
    yield running
    running.stop()


def _bucket(server: RunningServer, region: str) -> str:
    name = f"trail-regions-{uuid.uuid4().hex[:10]}"
    regional(server, "s3", region).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
    )
    return name


def test_lookup_events_answers_only_its_regions_calls(trail_server: RunningServer) -> None:
    group = f"/regional/{uuid.uuid4().hex[:8]}"
    regional(trail_server, "logs", HOME).create_log_group(logGroupName=group)
    by_name = [{"AttributeKey": "EventName", "AttributeValue": "CreateLogGroup"}]
    home = regional(trail_server, "cloudtrail", HOME).lookup_events(LookupAttributes=by_name)["Events"]
    away = regional(trail_server, "cloudtrail", AWAY).lookup_events(LookupAttributes=by_name)["Events"]
    records = [json.loads(event["CloudTrailEvent"]) for event in home]
    assert any(r["requestParameters"]["logGroupName"] == group for r in records)
    assert all(r["awsRegion"] == HOME for r in records)
    assert all(json.loads(e["CloudTrailEvent"])["awsRegion"] == AWAY for e in away)
    assert not any(
        json.loads(e["CloudTrailEvent"])["requestParameters"]["logGroupName"] == group for e in away
    )


def test_a_single_region_trail_lives_in_its_region(trail_server: RunningServer) -> None:
    home, away = regional(trail_server, "cloudtrail", HOME), regional(trail_server, "cloudtrail", AWAY)
    name = f"regional-{uuid.uuid4().hex[:8]}"
    bucket = _bucket(trail_server, HOME)
    arn = home.create_trail(Name=name, S3BucketName=bucket)["TrailARN"]
    assert arn == f"arn:aws:cloudtrail:{HOME}:000000000000:trail/{name}"
    for call in (away.get_trail, away.get_trail_status, away.delete_trail, away.start_logging):
        assert error_of(call, Name=name)["Code"] == "TrailNotFoundException"
    assert error_of(away.get_trail, Name=arn)["Code"] == "TrailNotFoundException"
    assert name not in [t["Name"] for t in away.describe_trails()["trailList"]]
    assert away.describe_trails(trailNameList=[name])["trailList"] == []
    # ListTrails lists the account's trails of every region, each with its home region
    listed = {t["TrailARN"]: t["HomeRegion"] for t in away.list_trails()["Trails"]}
    assert listed[arn] == HOME

    # the name is free in us-east-1, and each region's trail is its own
    other = away.create_trail(Name=name, S3BucketName=bucket)["TrailARN"]
    assert arn_region(other) == AWAY
    away.update_trail(Name=name, S3KeyPrefix="away")
    assert home.get_trail(Name=name)["Trail"].get("S3KeyPrefix") is None
    assert away.get_trail(Name=name)["Trail"]["S3KeyPrefix"] == "away"
    # a multi-Region trail needs its name free in every region
    clash = error_of(home.update_trail, Name=name, IsMultiRegionTrail=True)
    assert clash["Code"] == "TrailAlreadyExistsException"
    away.delete_trail(Name=name)
    assert home.get_trail(Name=name)["Trail"]["TrailARN"] == arn
    home.delete_trail(Name=arn)


def test_a_multi_region_trail_is_a_shadow_elsewhere_and_delivers_every_region(
    trail_server: RunningServer,
) -> None:
    home, away = regional(trail_server, "cloudtrail", HOME), regional(trail_server, "cloudtrail", AWAY)
    name = f"everywhere-{uuid.uuid4().hex[:8]}"
    bucket = _bucket(trail_server, HOME)
    arn = home.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True)["TrailARN"]
    assert arn_region(arn) == HOME
    assert (
        error_of(away.create_trail, Name=name, S3BucketName=bucket)["Code"] == "TrailAlreadyExistsException"
    )

    shadow = away.get_trail(Name=name)["Trail"]
    assert (shadow["TrailARN"], shadow["HomeRegion"], shadow["IsMultiRegionTrail"]) == (arn, HOME, True)
    assert arn in [t["TrailARN"] for t in away.describe_trails()["trailList"]]
    assert arn not in [t["TrailARN"] for t in away.describe_trails(includeShadowTrails=False)["trailList"]]
    assert away.describe_trails(trailNameList=[name])["trailList"] == []  # names match this region's own
    assert [t["TrailARN"] for t in away.describe_trails(trailNameList=[arn])["trailList"]] == [arn]
    # a shadow's status is read by its ARN; it is changed only from home
    assert error_of(away.get_trail_status, Name=name)["Code"] == "TrailNotFoundException"
    assert away.get_trail_status(Name=arn)["IsLogging"] is False
    for call, params in (
        (away.start_logging, {"Name": name}),
        (away.stop_logging, {"Name": arn}),
        (away.update_trail, {"Name": name, "S3KeyPrefix": "x"}),
        (away.delete_trail, {"Name": arn}),
    ):
        refused = error_of(call, **params)
        assert refused["Code"] == "InvalidHomeRegionException" and HOME in refused["Message"]

    home.start_logging(Name=name)
    marker = f"/everywhere/{uuid.uuid4().hex[:8]}"
    regional(trail_server, "logs", AWAY).create_log_group(logGroupName=marker)
    s3 = regional(trail_server, "s3", HOME)
    prefix = f"AWSLogs/000000000000/CloudTrail/{AWAY}/"
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not found:
        time.sleep(0.5)
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            found += [
                r
                for r in json.loads(body)["Records"]
                if r["eventName"] == "CreateLogGroup" and r["requestParameters"]["logGroupName"] == marker
            ]
    assert found and found[0]["awsRegion"] == AWAY  # another region's call, in its region's folder
    home.stop_logging(Name=name)
    home.delete_trail(Name=name)
    assert error_of(away.get_trail, Name=name)["Code"] == "TrailNotFoundException"
