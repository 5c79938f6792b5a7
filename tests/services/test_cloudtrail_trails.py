"""CloudTrail beyond the basics: an IAM user's identity, a trail's KMS-encrypted log files and its delivery
errors, and a crash (SIGKILL) keeping every record already written."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.server import RunningServer
from tests.services.regions import regional


@pytest.fixture(scope="module")
def trail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data = tmp_path_factory.mktemp("outcrop-cloudtrail-more") / "data"
    running = RunningServer(data, extra_env={"OUTCROP_CLOUDTRAIL_DELIVERY_SECONDS": "1"}).start()
    yield running
    running.stop()


def events_named(server: RunningServer, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}]
    )["Events"]
    return found


def wait_for(check: Any, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    return check()


def test_an_iam_users_calls_name_the_user(trail_server: RunningServer) -> None:
    iam = trail_server.client("iam")
    name = f"auditor-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = boto3.client(
        "kms",
        endpoint_url=trail_server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )
    as_user.list_keys()
    cloudtrail = regional(trail_server, "cloudtrail", "eu-west-1")  # the call's region holds its event
    mine = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": name}])
    record = json.loads(mine["Events"][0]["CloudTrailEvent"])
    assert record["eventName"] == "ListKeys" and record["awsRegion"] == "eu-west-1"
    assert record["userIdentity"]["type"] == "IAMUser" and record["userIdentity"]["userName"] == name
    assert record["userIdentity"]["arn"] == f"arn:aws:iam::000000000000:user/{name}"
    assert record["userIdentity"]["accessKeyId"] == key["AccessKeyId"]
    made = json.loads(events_named(trail_server, "CreateAccessKey")[0]["CloudTrailEvent"])
    assert key["SecretAccessKey"] not in json.dumps(made)


def test_a_trail_with_a_kms_key_writes_encrypted_log_files_and_reports_delivery_errors(
    trail_server: RunningServer,
) -> None:
    s3, kms, cloudtrail = (trail_server.client(n) for n in ("s3", "kms", "cloudtrail"))
    bucket, name = f"ct-kms-{uuid.uuid4().hex[:8]}", f"kms-trail-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    key = kms.create_key()["KeyMetadata"]
    trail = cloudtrail.create_trail(Name=name, S3BucketName=bucket, KmsKeyId=key["KeyId"])
    assert trail["KmsKeyId"] == key["Arn"]
    cloudtrail.start_logging(Name=name)
    trail_server.client("sts").get_caller_identity()

    def files() -> list[dict[str, Any]]:
        return list(s3.list_objects_v2(Bucket=bucket).get("Contents", []))

    listed = wait_for(files)
    assert listed
    head = s3.head_object(Bucket=bucket, Key=listed[0]["Key"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key["Arn"]
    body = s3.get_object(Bucket=bucket, Key=listed[0]["Key"])["Body"].read()
    assert json.loads(gzip.decompress(body))["Records"]
    kms.disable_key(KeyId=key["KeyId"])
    trail_server.client("sts").get_caller_identity()
    status = wait_for(lambda: cloudtrail.get_trail_status(Name=name).get("LatestDeliveryError"))
    assert status == "DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert wait_for(lambda: cloudtrail.get_trail_status(Name=name).get("LatestDeliveryError") is None)
    cloudtrail.delete_trail(Name=name)


def test_a_crash_keeps_every_record_already_written(trail_server: RunningServer) -> None:
    marker = f"crash-{uuid.uuid4().hex[:8]}"
    trail_server.client("kms").create_key(Description=marker)
    time.sleep(1)  # records reach the disk milliseconds after their call is answered
    assert trail_server.process is not None
    trail_server.process.kill()  # SIGKILL: no shutdown, no flush
    trail_server.process.wait()
    trail_server.start()
    found = [e for e in events_named(trail_server, "CreateKey") if marker in e["CloudTrailEvent"]]
    assert len(found) == 1
