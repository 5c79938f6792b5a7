"""S3 multipart uploads, the AWS CLI, and S3 state surviving a restart."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig

from tests.errors import error_of
from tests.server import RunningServer

MB = 1024 * 1024


@pytest.fixture
def s3(client: Callable[..., Any]) -> Any:
    return client("s3")


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = f"mp-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def payload(size: int, seed: bytes = b"outcrop") -> bytes:
    block = hashlib.sha256(seed).digest() * (MB // 32)
    return (block * (size // len(block) + 1))[:size]


def test_twenty_megabyte_multipart_upload(s3: Any, bucket: str) -> None:
    data = payload(20 * MB)
    sizes = [8 * MB, 8 * MB, 4 * MB]
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="big/file.bin", ContentType="application/x-test", Metadata={"origin": "test"}
    )
    upload_id = upload["UploadId"]
    assert (upload["Bucket"], upload["Key"]) == (bucket, "big/file.bin")
    parts, offset = [], 0
    for number, size in enumerate(sizes, start=1):
        chunk = data[offset : offset + size]
        offset += size
        etag = s3.upload_part(
            Bucket=bucket, Key="big/file.bin", UploadId=upload_id, PartNumber=number, Body=chunk
        )["ETag"]
        assert etag == f'"{hashlib.md5(chunk).hexdigest()}"'
        parts.append({"PartNumber": number, "ETag": etag})
    listed = s3.list_parts(Bucket=bucket, Key="big/file.bin", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == list(enumerate(sizes, start=1))
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("big/file.bin", upload_id)]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big/file.bin", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    md5s = b"".join(
        hashlib.md5(data[o : o + s]).digest() for o, s in zip([0, 8 * MB, 16 * MB], sizes, strict=True)
    )
    expected_etag = f'"{hashlib.md5(md5s).hexdigest()}-3"'
    assert done["ETag"] == expected_etag
    assert done["Location"].endswith(f"/{bucket}/big/file.bin")
    got = s3.get_object(Bucket=bucket, Key="big/file.bin")
    assert (got["ContentLength"], got["ETag"], got["ContentType"]) == (
        len(data),
        expected_etag,
        "application/x-test",
    )
    assert got["Metadata"] == {"origin": "test"}
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert (
        error_of(s3.list_parts, Bucket=bucket, Key="big/file.bin", UploadId=upload_id)["Code"]
        == "NoSuchUpload"
    )


def test_upload_file_and_download_file_with_boto3_transfer(s3: Any, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(payload(12 * MB, b"transfer"))
    config = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB, max_concurrency=4)
    s3.upload_file(str(source), bucket, "transfer.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="transfer.bin")
    assert head["ContentLength"] == 12 * MB and head["ETag"].endswith('-3"')
    target = tmp_path / "target.bin"
    s3.download_file(bucket, "transfer.bin", str(target), Config=config)
    assert target.read_bytes() == source.read_bytes()


def test_composite_checksum_of_a_multipart_upload(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="c", ChecksumAlgorithm="CRC32")["UploadId"]
    first = s3.upload_part(
        Bucket=bucket,
        Key="c",
        UploadId=upload_id,
        PartNumber=1,
        Body=payload(5 * MB),
        ChecksumAlgorithm="CRC32",
    )
    second = s3.upload_part(
        Bucket=bucket, Key="c", UploadId=upload_id, PartNumber=2, Body=b"tail", ChecksumAlgorithm="CRC32"
    )
    parts = [
        {"PartNumber": 1, "ETag": first["ETag"], "ChecksumCRC32": first["ChecksumCRC32"]},
        {"PartNumber": 2, "ETag": second["ETag"], "ChecksumCRC32": second["ChecksumCRC32"]},
    ]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="c", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert done["ChecksumCRC32"].endswith("-2")
    assert done["ChecksumType"] == "COMPOSITE"
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got["Body"].read()[-4:] == b"tail"


def test_part_validation_errors(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    small = [
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=n, Body=b"tiny")["ETag"]
        for n in (1, 2)
    ]

    def complete(parts: list[dict[str, Any]]) -> dict[str, Any]:
        return error_of(
            s3.complete_multipart_upload,
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )

    order = complete([{"PartNumber": 2, "ETag": small[1]}, {"PartNumber": 1, "ETag": small[0]}])
    assert (order["Code"], order["Status"]) == ("InvalidPartOrder", 400)
    missing = complete([{"PartNumber": 1, "ETag": small[0]}, {"PartNumber": 3, "ETag": small[1]}])
    assert (missing["Code"], missing["PartNumber"]) == ("InvalidPart", "3")
    wrong_etag = complete([{"PartNumber": 1, "ETag": '"0123456789abcdef0123456789abcdef"'}])
    assert wrong_etag["Code"] == "InvalidPart"
    too_small = complete([{"PartNumber": 1, "ETag": small[0]}, {"PartNumber": 2, "ETag": small[1]}])
    assert (too_small["Code"], too_small["MinSizeAllowed"]) == ("EntityTooSmall", str(5 * MB))
    bad_number = error_of(
        s3.upload_part, Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=10001, Body=b"x"
    )
    assert bad_number["Code"] == "InvalidArgument"
    # a single small part is a valid upload: only parts before the last must reach 5 MiB
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": small[0]}]},
    )
    assert done["ETag"].endswith('-1"')
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"tiny"


def test_unknown_and_aborted_uploads(s3: Any, bucket: str) -> None:
    nope = error_of(s3.upload_part, Bucket=bucket, Key="k", UploadId="nope", PartNumber=1, Body=b"x")
    assert (nope["Code"], nope["Status"], nope["UploadId"]) == ("NoSuchUpload", 404, "nope")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
    aborted = s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert aborted["ResponseMetadata"]["HTTPStatusCode"] == 204
    again = error_of(s3.abort_multipart_upload, Bucket=bucket, Key="k", UploadId=upload_id)
    assert again["Code"] == "NoSuchUpload"
    assert error_of(s3.head_object, Bucket=bucket, Key="k")["Code"] == "404"


def test_list_uploads_and_parts_pagination(s3: Any, bucket: str) -> None:
    ids = {key: s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in ("a/1", "a/2", "b")}
    for number in range(1, 6):
        s3.upload_part(Bucket=bucket, Key="b", UploadId=ids["b"], PartNumber=number, Body=b"p")
    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in grouped["Uploads"]] == ["b"]
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/"]
    first = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
    assert [u["Key"] for u in first["Uploads"]] == ["a/1", "a/2"] and first["IsTruncated"]
    rest = s3.list_multipart_uploads(
        Bucket=bucket, KeyMarker=first["NextKeyMarker"], UploadIdMarker=first["NextUploadIdMarker"]
    )
    assert [u["Key"] for u in rest["Uploads"]] == ["b"]
    page = s3.list_parts(Bucket=bucket, Key="b", UploadId=ids["b"], MaxParts=2, PartNumberMarker=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [3, 4]
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 4


def test_upload_part_copy(s3: Any, bucket: str) -> None:
    source = payload(6 * MB, b"copy")
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="joined")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key="joined",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
    )
    second = s3.upload_part_copy(
        Bucket=bucket,
        Key="joined",
        UploadId=upload_id,
        PartNumber=2,
        CopySource=f"{bucket}/source",
        CopySourceRange="bytes=0-99",
    )
    parts = [
        {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]},
    ]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="joined", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert s3.get_object(Bucket=bucket, Key="joined")["Body"].read() == source + source[:100]


def test_aws_cli_cp_and_ls(server: RunningServer, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIAOUTCROPTEST",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    aws = [str(Path(sys.executable).with_name("aws")), "--endpoint-url", server.endpoint]

    def run(*args: str) -> str:
        done = subprocess.run([*aws, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    name = f"cli-{uuid.uuid4().hex[:8]}"
    small, large = tmp_path / "small.txt", tmp_path / "large.bin"
    small.write_text("hello from the cli\n")
    large.write_bytes(payload(10 * MB, b"cli"))
    run("s3", "mb", f"s3://{name}")
    run("s3", "cp", str(small), f"s3://{name}/docs/small.txt")
    run("s3", "cp", str(large), f"s3://{name}/data/large.bin")
    listing = run("s3", "ls", f"s3://{name}/")
    assert "PRE docs/" in listing and "PRE data/" in listing
    assert "large.bin" in run("s3", "ls", f"s3://{name}/data/")
    assert name in run("s3", "ls")
    run("s3", "cp", f"s3://{name}/data/large.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == large.read_bytes()
    run("s3", "cp", f"s3://{name}/docs/small.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "hello from the cli\n"
    run("s3", "rb", f"s3://{name}", "--force")
    assert name not in run("s3", "ls")


def test_state_survives_a_restart(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data").start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="durable")
        s3.put_object(Bucket="durable", Key="kept.txt", Body=b"still here", Metadata={"a": "b"})
        s3.put_object(Bucket="durable", Key="replaced.txt", Body=b"old")
        s3.put_object(Bucket="durable", Key="replaced.txt", Body=b"new")
        upload_id = s3.create_multipart_upload(Bucket="durable", Key="pending")["UploadId"]
        etag = s3.upload_part(
            Bucket="durable", Key="pending", UploadId=upload_id, PartNumber=1, Body=b"part"
        )["ETag"]
        server.restart()
        s3 = server.client("s3")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["durable"]
        kept = s3.get_object(Bucket="durable", Key="kept.txt")
        assert (kept["Body"].read(), kept["Metadata"]) == (b"still here", {"a": "b"})
        assert s3.get_object(Bucket="durable", Key="replaced.txt")["Body"].read() == b"new"
        s3.complete_multipart_upload(
            Bucket="durable",
            Key="pending",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
        assert s3.get_object(Bucket="durable", Key="pending")["Body"].read() == b"part"
        blobs = [p for p in (tmp_path / "data" / "s3" / "blobs").rglob("*") if p.is_file()]
        assert len(blobs) == 3  # kept, replaced (new bytes only) and pending: nothing left behind
    finally:
        server.stop()
