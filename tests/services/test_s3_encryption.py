"""S3 encryption at rest through boto3: SSE-S3 and SSE-KMS objects are stored sealed, read back in the
clear, fail as AWS fails when their key is disabled; unencrypted objects stay as they are."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer


@pytest.fixture
def s3(client: Callable[..., Any]) -> Any:
    return client("s3")


@pytest.fixture
def kms(client: Callable[..., Any]) -> Any:
    return client("kms")


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = f"sse-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def found_in_data_dir(data_dir: Path, needle: bytes) -> list[Path]:
    """Every file under the data dir whose bytes contain `needle` (the test's grep)."""
    hits = []
    for path in data_dir.rglob("*"):
        if path.is_file():
            try:
                if needle in path.read_bytes():
                    hits.append(path)
            except OSError:
                continue
    return hits


def secret() -> bytes:
    return b"TOP-SECRET-" + uuid.uuid4().hex.encode() + b"-" + os.urandom(16).hex().encode()


def test_sse_s3_and_sse_kms_objects_are_stored_sealed(
    s3: Any, kms: Any, bucket: str, server: RunningServer
) -> None:
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    plain, sealed_s3, sealed_kms = secret(), secret(), secret()
    s3.put_object(Bucket=bucket, Key="plain.txt", Body=plain)
    put = s3.put_object(Bucket=bucket, Key="s3.txt", Body=sealed_s3 * 5000, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    put = s3.put_object(
        Bucket=bucket, Key="kms.txt", Body=sealed_kms, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn
    )
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == key_arn
    got = s3.get_object(Bucket=bucket, Key="kms.txt")
    assert got["Body"].read() == sealed_kms and got["SSEKMSKeyId"] == key_arn
    assert s3.get_object(Bucket=bucket, Key="s3.txt")["Body"].read() == sealed_s3 * 5000
    ranged = s3.get_object(Bucket=bucket, Key="s3.txt", Range="bytes=70000-70099")["Body"].read()
    assert ranged == (sealed_s3 * 5000)[70000:70100]
    assert s3.head_object(Bucket=bucket, Key="s3.txt")["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="plain.txt")
    assert found_in_data_dir(server.data_dir, sealed_s3) == []
    assert found_in_data_dir(server.data_dir, sealed_kms) == []
    assert found_in_data_dir(server.data_dir, plain) != []  # unencrypted objects are kept as they are


def test_bucket_default_encryption_and_the_aws_managed_key(
    s3: Any, kms: Any, bucket: str, server: RunningServer
) -> None:
    missing = error_of(s3.get_bucket_encryption, Bucket=bucket)
    assert missing["Code"] == "ServerSideEncryptionConfigurationNotFoundError" and missing["Status"] == 404
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"] == [rule]
    body = secret()
    put = s3.put_object(Bucket=bucket, Key="default.txt", Body=body)
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == managed["Arn"]
    assert managed["KeyManager"] == "AWS" and put["BucketKeyEnabled"] is True
    assert s3.get_object(Bucket=bucket, Key="default.txt")["Body"].read() == body
    copied = s3.copy_object(
        Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "default.txt"}
    )
    assert copied["ServerSideEncryption"] == "aws:kms"
    assert s3.get_object(Bucket=bucket, Key="copy.txt")["Body"].read() == body
    assert found_in_data_dir(server.data_dir, body) == []
    s3.delete_bucket_encryption(Bucket=bucket)
    assert "ServerSideEncryption" not in s3.put_object(Bucket=bucket, Key="after.txt", Body=b"x")
    bad = {
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}}]
    }
    assert error_of(s3.put_bucket_encryption, Bucket=bucket, ServerSideEncryptionConfiguration=bad)[
        "Code"
    ] == ("InvalidArgument")


def test_a_disabled_key_makes_reads_fail_with_the_kms_error(s3: Any, kms: Any, bucket: str) -> None:
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/sse-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    put = s3.put_object(
        Bucket=bucket, Key="k.txt", Body=b"data", ServerSideEncryption="aws:kms", SSEKMSKeyId=alias
    )
    assert put["SSEKMSKeyId"] == key["Arn"]
    kms.disable_key(KeyId=key["KeyId"])
    error = error_of(s3.get_object, Bucket=bucket, Key="k.txt")
    assert error["Code"] == "KMS.DisabledException" and error["Status"] == 400
    assert error["Message"] == f"{key['Arn']} is disabled."
    assert (
        error_of(
            s3.put_object,
            Bucket=bucket,
            Key="k2.txt",
            Body=b"x",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key["KeyId"],
        )["Code"]
        == "KMS.DisabledException"
    )
    kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"data"
    nowhere = error_of(
        s3.put_object,
        Bucket=bucket,
        Key="k3.txt",
        Body=b"x",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="alias/none",
    )
    assert nowhere["Code"] == "KMS.NotFoundException"


def test_bad_encryption_requests_are_refused(s3: Any, bucket: str) -> None:
    dsse = error_of(s3.put_object, Bucket=bucket, Key="a", Body=b"x", ServerSideEncryption="aws:kms:dsse")
    assert dsse["Code"] == "InvalidArgument"
    sse_c = error_of(
        s3.put_object,
        Bucket=bucket,
        Key="a",
        Body=b"x",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey="k" * 32,
    )
    assert sse_c["Code"] == "NotImplemented" and sse_c["Status"] == 501


def test_multipart_uploads_are_sealed_when_completed(s3: Any, bucket: str, server: RunningServer) -> None:
    part = secret() * (6 * 1024 * 1024 // 80 + 1)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin", ServerSideEncryption="AES256")
    assert upload["ServerSideEncryption"] == "AES256"
    etags = [
        s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload["UploadId"], PartNumber=n, Body=part)[
            "ETag"
        ]
        for n in (1, 2)
    ]
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags, strict=True)]},
    )
    assert done["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == part * 2
    assert found_in_data_dir(server.data_dir / "s3", part[:200]) == []
