"""Careless input to KMS, S3's encryption and CloudTrail: each refused with a modelled 4xx, never a 500."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

from tests.errors import error_of


def test_kms_refuses_bad_input(client: Callable[..., Any]) -> None:
    kms = client("kms", parameter_validation=False)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    cases = [
        (kms.encrypt, {"KeyId": key, "Plaintext": b"x" * 5000}, "ValidationException"),
        (
            kms.encrypt,
            {"KeyId": key, "Plaintext": b"x", "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
            "ValidationException",
        ),
        (
            kms.encrypt,
            {"KeyId": "arn:aws:kms:us-east-1:000000000000:key/nope", "Plaintext": b"x"},
            "NotFoundException",
        ),
        (kms.encrypt, {"KeyId": "arn:bad", "Plaintext": b"x"}, "NotFoundException"),
        (kms.decrypt, {"CiphertextBlob": b"OKMS\x01" + b"z" * 80}, "InvalidCiphertextException"),
        (kms.list_keys, {"Marker": "not-a-marker!"}, "InvalidMarkerException"),
        (kms.list_keys, {"Limit": 0}, "ValidationException"),
        (
            kms.create_grant,
            {"KeyId": key, "GranteePrincipal": "x", "Operations": ["Fly"]},
            "ValidationException",
        ),
        (kms.retire_grant, {"GrantToken": "nope"}, "InvalidGrantTokenException"),
        (kms.get_key_policy, {"KeyId": key, "PolicyName": "other"}, "NotFoundException"),
        (kms.enable_key_rotation, {"KeyId": key, "RotationPeriodInDays": 30}, "ValidationException"),
        (
            kms.update_alias,
            {"AliasName": f"alias/{uuid.uuid4().hex}", "TargetKeyId": key},
            "NotFoundException",
        ),
        (kms.delete_alias, {"AliasName": f"alias/{uuid.uuid4().hex}"}, "NotFoundException"),
        (kms.create_key, {"Policy": "[1, 2"}, "MalformedPolicyDocumentException"),
        (kms.create_key, {"MultiRegion": True}, "ValidationException"),
    ]
    for call, kwargs, code in cases:
        error = error_of(call, **kwargs)
        assert (error["Code"], error["Status"] < 500) == (code, True), (kwargs, error)
    managed = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    assert (
        error_of(kms.decrypt, CiphertextBlob=b"\x00" * 40, KeyId=managed)["Code"]
        == "InvalidCiphertextException"
    )


def test_s3_encryption_refuses_bad_input(client: Callable[..., Any]) -> None:
    s3 = client("s3")
    bucket = f"sse-bad-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    bad_context = error_of(
        s3.put_object,
        Bucket=bucket,
        Key="a",
        Body=b"x",
        ServerSideEncryption="aws:kms",
        SSEKMSEncryptionContext=base64.b64encode(b"[not an object]").decode(),
    )
    assert bad_context["Code"] == "InvalidArgument" and bad_context["Status"] == 400  # S3 words it, as on AWS
    no_sse = error_of(s3.put_object, Bucket=bucket, Key="a", Body=b"x", SSEKMSKeyId="alias/x")
    assert no_sse["Code"] == "InvalidArgument"
    rules = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    missing = error_of(
        s3.put_bucket_encryption, Bucket="no-such-bucket-x1", ServerSideEncryptionConfiguration=rules
    )
    assert missing["Code"] == "NoSuchBucket"
    assert (
        error_of(s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": []})[
            "Code"
        ]
        == "MalformedXML"
    )
    s3.delete_bucket(Bucket=bucket)


def test_cloudtrail_refuses_bad_input(client: Callable[..., Any]) -> None:
    cloudtrail = client("cloudtrail", parameter_validation=False)
    assert error_of(cloudtrail.get_trail_status, Name="no-such-trail")["Code"] == "TrailNotFoundException"
    assert error_of(cloudtrail.lookup_events, MaxResults=500)["Code"] == "ValidationException"
    insight = error_of(cloudtrail.lookup_events, EventCategory="insight")
    assert insight["Code"] == "InvalidEventCategoryException"
    bad_key = error_of(
        cloudtrail.lookup_events, LookupAttributes=[{"AttributeKey": "Nonsense", "AttributeValue": "x"}]
    )
    assert bad_key["Code"] == "ValidationException"
    s3 = client("s3")
    bucket = f"ct-bad-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    sns = error_of(cloudtrail.create_trail, Name="with-sns", S3BucketName=bucket, SnsTopicName="t")
    assert sns["Code"] == "UnsupportedOperationException"
    assert (
        error_of(cloudtrail.create_trail, Name="k-trail", S3BucketName=bucket, KmsKeyId="alias/none")["Code"]
        == "KmsKeyNotFoundException"
    )
    s3.delete_bucket(Bucket=bucket)
