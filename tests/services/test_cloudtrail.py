"""CloudTrail through boto3: every call recorded and looked up, trails delivering gzip'd log files to S3,
and the log surviving a restart."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer


@pytest.fixture(scope="module")
def trail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server whose trails deliver every second, so delivery is seen in a test's time."""
    data = tmp_path_factory.mktemp("outcrop-cloudtrail") / "data"
    running = RunningServer(data, extra_env={"OUTCROP_CLOUDTRAIL_DELIVERY_SECONDS": "1"}).start()
    yield running
    running.stop()


@pytest.fixture
def cloudtrail(trail_server: RunningServer) -> Any:
    return trail_server.client("cloudtrail")


def lookup(cloudtrail: Any, key: str, value: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}]
    )["Events"]
    return events


def test_a_write_is_recorded_with_identity_parameters_and_response(
    cloudtrail: Any, trail_server: RunningServer
) -> None:
    kms = trail_server.client("kms")
    key = kms.create_key(Description=f"audited-{uuid.uuid4().hex[:6]}")["KeyMetadata"]
    events = lookup(cloudtrail, "ResourceName", key["KeyId"]) + lookup(cloudtrail, "EventName", "CreateKey")
    created = next(
        e for e in events if e["EventName"] == "CreateKey" and key["KeyId"] in e["CloudTrailEvent"]
    )
    record = json.loads(created["CloudTrailEvent"])
    assert created["EventSource"] == "kms.amazonaws.com" and created["ReadOnly"] == "false"
    assert created["Username"] == "root" and created["AccessKeyId"] == "AKIAOUTCROPTEST"
    assert record["userIdentity"] == {
        "type": "Root",
        "principalId": "000000000000",
        "arn": "arn:aws:iam::000000000000:root",
        "accountId": "000000000000",
        "accessKeyId": "AKIAOUTCROPTEST",
    }
    assert (
        record["eventVersion"] and record["eventType"] == "AwsApiCall" and record["managementEvent"] is True
    )
    assert record["awsRegion"] == "us-east-1" and record["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in record["userAgent"] or "botocore" in record["userAgent"]
    assert record["requestParameters"]["description"] == key["Description"]
    assert record["responseElements"]["keyMetadata"]["keyId"] == key["KeyId"]
    assert len(record["requestID"]) == 36 and record["eventID"] == created["EventId"]


def test_failures_are_recorded_with_their_error_and_secrets_are_hidden(
    cloudtrail: Any, trail_server: RunningServer
) -> None:
    kms = trail_server.client("kms")
    missing = str(uuid.uuid4())
    error_of(kms.describe_key, KeyId=missing)
    failed = json.loads(lookup(cloudtrail, "ResourceName", missing)[0]["CloudTrailEvent"])
    assert failed["errorCode"] == "NotFoundException" and "does not exist" in failed["errorMessage"]
    assert failed["readOnly"] is True and failed["responseElements"] is None
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    secret = f"hunter2-{uuid.uuid4().hex}"
    kms.encrypt(KeyId=key, Plaintext=secret.encode())
    data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    kms.create_grant(KeyId=key, GranteePrincipal="arn:aws:iam::000000000000:role/x", Operations=["Decrypt"])
    for event in lookup(cloudtrail, "ResourceName", key):
        assert secret not in event["CloudTrailEvent"]
        assert data_key["Plaintext"].hex() not in event["CloudTrailEvent"]
    grant = json.loads(lookup(cloudtrail, "EventName", "CreateGrant")[0]["CloudTrailEvent"])
    assert grant["responseElements"]["grantToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"


def test_members_the_model_marks_sensitive_are_hidden(cloudtrail: Any, trail_server: RunningServer) -> None:
    secret = f"Always answer in rhyme {uuid.uuid4().hex}."
    agent = trail_server.client("bedrock-agent").create_agent(
        agentName=f"a-{uuid.uuid4().hex[:8]}",
        foundationModel="anthropic.claude-3-haiku-20240307-v1:0",
        instruction=secret,
        agentResourceRoleArn="arn:aws:iam::000000000000:role/agent",
    )["agent"]
    events = lookup(cloudtrail, "EventName", "CreateAgent")
    assert events and all(secret not in event["CloudTrailEvent"] for event in events)
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["requestParameters"]["instruction"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert record["requestParameters"]["agentName"] == agent["agentName"]  # what is not sensitive stays
    assert record["responseElements"]["agent"]["instruction"] == "HIDDEN_DUE_TO_SECURITY_REASONS"


def test_lookup_attributes_time_range_and_paging(cloudtrail: Any, trail_server: RunningServer) -> None:
    sts = trail_server.client("sts")
    for _ in range(5):
        sts.get_caller_identity()
    events = lookup(cloudtrail, "EventSource", "sts.amazonaws.com")
    assert len(events) >= 5 and {e["EventName"] for e in events} == {"GetCallerIdentity"}
    assert all(e["ReadOnly"] == "true" for e in lookup(cloudtrail, "ReadOnly", "true"))
    assert lookup(cloudtrail, "EventId", events[0]["EventId"])[0]["EventId"] == events[0]["EventId"]
    assert len(lookup(cloudtrail, "AccessKeyId", "AKIAOUTCROPTEST")) > 5
    assert lookup(cloudtrail, "Username", "root")
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)  # newest first
    pages = cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "sts.amazonaws.com"}],
        PaginationConfig={"PageSize": 2},
    )
    ids = [e["EventId"] for page in pages for e in page["Events"]]
    assert len(ids) == len(set(ids)) >= 5
    future = datetime.now(UTC) + timedelta(hours=1)
    assert cloudtrail.lookup_events(StartTime=future, EndTime=future + timedelta(hours=1))["Events"] == []
    bad_range = error_of(cloudtrail.lookup_events, StartTime=future, EndTime=future - timedelta(hours=2))
    assert bad_range["Code"] == "InvalidTimeRangeException"
    two = [
        {"AttributeKey": "EventName", "AttributeValue": "A"},
        {"AttributeKey": "ReadOnly", "AttributeValue": "true"},
    ]
    assert (
        error_of(cloudtrail.lookup_events, LookupAttributes=two)["Code"] == "InvalidLookupAttributesException"
    )
    assert error_of(cloudtrail.lookup_events, NextToken="garbage!")["Code"] == "InvalidNextTokenException"


def delivered(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    records = []
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        records.extend(json.loads(gzip.decompress(body))["Records"])
    return records


def test_a_trail_delivers_gzipped_log_files_as_cloudtrail_lays_them_out(
    cloudtrail: Any, trail_server: RunningServer
) -> None:
    s3, sts = trail_server.client("s3"), trail_server.client("sts")
    bucket, name = f"trail-{uuid.uuid4().hex[:10]}", f"trail-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    missing = error_of(cloudtrail.create_trail, Name=name, S3BucketName="no-such-bucket-here")
    assert missing["Code"] == "S3BucketDoesNotExistException"
    assert (
        error_of(cloudtrail.create_trail, Name="-bad", S3BucketName=bucket)["Code"]
        == "InvalidTrailNameException"
    )
    created = cloudtrail.create_trail(Name=name, S3BucketName=bucket, S3KeyPrefix="audit")
    assert created["TrailARN"] == f"arn:aws:cloudtrail:us-east-1:000000000000:trail/{name}"
    assert (
        error_of(cloudtrail.create_trail, Name=name, S3BucketName=bucket)["Code"]
        == "TrailAlreadyExistsException"
    )
    assert cloudtrail.get_trail_status(Name=name)["IsLogging"] is False
    cloudtrail.start_logging(Name=name)
    marker = sts.get_caller_identity()  # noqa: F841 - the call the trail must deliver
    prefix = "audit/AWSLogs/000000000000/CloudTrail/us-east-1/"
    deadline = time.monotonic() + 20
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not any(r["eventName"] == "GetCallerIdentity" for r in records):
        time.sleep(0.5)
        records = delivered(s3, bucket, prefix)
    assert any(r["eventName"] == "GetCallerIdentity" for r in records)
    key = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"][0]["Key"]
    today = datetime.now(UTC)
    assert key.startswith(f"{prefix}{today:%Y/%m/%d}/000000000000_CloudTrail_us-east-1_{today:%Y%m%d}T")
    assert key.endswith(".json.gz")
    assert all(r["managementEvent"] for r in records)
    status = cloudtrail.get_trail_status(Name=name)
    assert status["IsLogging"] and status["LatestDeliveryTime"] and status.get("LatestDeliveryError") is None
    cloudtrail.stop_logging(Name=name)
    assert cloudtrail.get_trail_status(Name=name)["IsLogging"] is False
    cloudtrail.update_trail(Name=name, S3KeyPrefix="other")
    assert cloudtrail.get_trail(Name=name)["Trail"]["S3KeyPrefix"] == "other"
    assert [t["Name"] for t in cloudtrail.describe_trails(trailNameList=[name])["trailList"]] == [name]
    cloudtrail.delete_trail(Name=created["TrailARN"])
    assert error_of(cloudtrail.get_trail, Name=name)["Code"] == "TrailNotFoundException"


def test_the_log_survives_a_restart_and_refuses_rewrites(
    cloudtrail: Any, trail_server: RunningServer
) -> None:
    kms = trail_server.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    trail_server.restart()
    after = trail_server.client("cloudtrail")
    assert [e["EventName"] for e in lookup(after, "ResourceName", key)] == ["CreateKey"]
    import sqlite3

    conn = sqlite3.connect(Path(trail_server.data_dir) / "cloudtrail" / "events.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM events")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE events SET event_name = 'x'")
    conn.close()
