"""CloudTrail records without a server: what is hidden, what is left out, what is kept."""

from __future__ import annotations

from datetime import UTC, datetime

from outcrop.protocol.gateway import ApiCall
from outcrop.services.cloudtrail.records import HIDDEN, Identity, build, redact

ROOT = Identity("Root", "000000000000", "arn:aws:iam::000000000000:root", "000000000000", "root")


def call(operation: str, params: dict[str, object], **kwargs: object) -> ApiCall:
    values: dict[str, object] = {
        "at": 1_800_000_000.0,
        "service": "kms",
        "operation": operation,
        "region": "eu-west-1",
        "access_key": "AKIAEXAMPLE",
        "source_ip": "10.0.0.1",
        "user_agent": "aws-cli/2",
        "request_id": "r-1",
        "params": params,
        "status": 200,
        "headers": {"content-type": "application/x-amz-json-1.1"},
        "body": b"{}",
    }
    values.update(kwargs)
    return ApiCall(**values)  # type: ignore[arg-type]


def test_secrets_are_hidden_and_bodies_left_out() -> None:
    params = {
        "UserName": "alice",
        "Password": "hunter2",
        "Credentials": {"AccessKeyId": "AKIA1", "SecretAccessKey": "s3cr3t", "SessionToken": "tok"},
        "Body": b"object bytes",
        "messages": [{"role": "user", "content": [{"text": "my prompt"}]}],
        "NextToken": "page-2",
        "When": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    assert redact(params) == {
        "userName": "alice",
        "password": HIDDEN,
        "credentials": {"accessKeyId": "AKIA1", "secretAccessKey": HIDDEN, "sessionToken": HIDDEN},
        "nextToken": "page-2",
        "when": "2026-01-02T03:04:05Z",
    }


def test_a_write_keeps_its_response_and_a_failure_its_error() -> None:
    body = b'{"KeyMetadata": {"KeyId": "k-1", "Arn": "arn:aws:kms:eu-west-1:0:key/k-1"}, "Plaintext": "AAA="}'
    record = build(call("CreateKey", {"Description": "d"}, body=body), "000000000000", ROOT)
    assert record["responseElements"] == {
        "keyMetadata": {"keyId": "k-1", "arn": "arn:aws:kms:eu-west-1:0:key/k-1"},
        "plaintext": HIDDEN,
    }
    assert record["eventTime"] == "2027-01-15T08:00:00Z" and record["readOnly"] is False
    assert record["eventSource"] == "kms.amazonaws.com" and record["awsRegion"] == "eu-west-1"
    assert ("AWS::KMS::Key", "k-1") in record["_resources"]
    failed = build(
        call(
            "DescribeKey",
            {"KeyId": "k-2"},
            status=400,
            headers={"x-amzn-errortype": "NotFoundException", "content-type": "application/x-amz-json-1.1"},
            body=b'{"__type": "NotFoundException", "message": "Key k-2 does not exist"}',
        ),
        "000000000000",
        ROOT,
    )
    assert failed["errorCode"] == "NotFoundException" and failed["errorMessage"] == "Key k-2 does not exist"
    assert failed["responseElements"] is None and ("AWS::KMS::Key", "k-2") in failed["_resources"]


def test_s3_object_calls_are_data_events() -> None:
    put = build(call("PutObject", {"Bucket": "b", "Key": "k"}, service="s3"), "000000000000", ROOT)
    assert put["managementEvent"] is False and put["eventCategory"] == "Data"
    assert put["eventSource"] == "s3.amazonaws.com"
    made = build(call("CreateBucket", {"Bucket": "b"}, service="s3"), "000000000000", ROOT)
    assert made["managementEvent"] is True
