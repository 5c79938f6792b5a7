"""S3 buckets and objects through boto3 and plain HTTP, against a running server."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from tests.errors import error_of
from tests.server import RunningServer


@pytest.fixture
def s3(client: Callable[..., Any]) -> Any:
    return client("s3")


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


# -- buckets ------------------------------------------------------------------------------------------------


def test_bucket_lifecycle(s3: Any) -> None:
    name = f"life-{uuid.uuid4().hex[:8]}"
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    assert s3.head_bucket(Bucket=name)["BucketRegion"] == "us-east-1"
    listed = s3.list_buckets()
    assert name in [b["Name"] for b in listed["Buckets"]]
    assert listed["Owner"]["ID"]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=name)
    assert error_of(s3.head_bucket, Bucket=name) == {"Code": "404", "Message": "Not Found", "Status": 404}
    assert error_of(s3.delete_bucket, Bucket=name)["Code"] == "NoSuchBucket"


def test_bucket_in_another_region(server: RunningServer) -> None:
    s3 = _regional(server, "eu-west-1")
    name = f"eu-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert s3.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"
    again = error_of(
        s3.create_bucket, Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    assert again["Code"] == "BucketAlreadyOwnedByYou"
    assert again["Status"] == 409
    assert again["BucketName"] == name
    missing = error_of(s3.create_bucket, Bucket=f"x-{name}")
    assert missing["Code"] == "IllegalLocationConstraintException"
    s3.delete_bucket(Bucket=name)


def _regional(server: RunningServer, region: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id="AKIAOUTCROPTEST",
        aws_secret_access_key="test-secret",
        config=Config(retries={"max_attempts": 1}),
    )


def test_recreating_your_bucket_in_us_east_1_succeeds_as_in_s3(s3: Any, bucket: str) -> None:
    assert s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    invalid = error_of(
        s3.create_bucket, Bucket=f"b-{bucket}", CreateBucketConfiguration={"LocationConstraint": "us-east-1"}
    )
    assert invalid["Code"] == "InvalidLocationConstraint"


@pytest.mark.parametrize(
    "name", ["ab", "UPPER-case", "has_underscore", "-leading", "a..b", "192.168.1.1", "x" * 64]
)
def test_invalid_bucket_names(s3: Any, name: str) -> None:
    error = error_of(s3.create_bucket, Bucket=name)
    assert (error["Code"], error["Status"]) == ("InvalidBucketName", 400)


def test_delete_non_empty_bucket(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    error = error_of(s3.delete_bucket, Bucket=bucket)
    assert (error["Code"], error["Status"]) == ("BucketNotEmpty", 409)


def test_no_such_bucket(s3: Any) -> None:
    error = error_of(s3.put_object, Bucket="no-such-bucket-here", Key="k", Body=b"x")
    assert (error["Code"], error["Status"], error["BucketName"]) == (
        "NoSuchBucket",
        404,
        "no-such-bucket-here",
    )
    assert error_of(s3.list_objects_v2, Bucket="no-such-bucket-here")["Code"] == "NoSuchBucket"


# -- objects ------------------------------------------------------------------------------------------------


def test_put_get_round_trips_bytes_and_headers(s3: Any, bucket: str) -> None:
    body = b"hello, outcrop\n" * 100
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    put = s3.put_object(
        Bucket=bucket,
        Key="docs/hello.txt",
        Body=body,
        ContentType="text/plain; charset=utf-8",
        Metadata={"author": "ada", "Mixed-Case": "Value"},
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="hello.txt"',
        ContentLanguage="en",
        ContentEncoding="identity",
        Expires=expires,
    )
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ETag"] == etag
    got = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == etag
    assert got["ContentLength"] == len(body)
    assert got["ContentType"] == "text/plain; charset=utf-8"
    assert got["Metadata"] == {"author": "ada", "mixed-case": "Value"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == 'attachment; filename="hello.txt"'
    assert got["ContentLanguage"] == "en"
    assert got["ContentEncoding"] == "identity"
    assert got["ExpiresString"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    assert got["AcceptRanges"] == "bytes"
    assert abs(got["LastModified"] - datetime.now(UTC)) < timedelta(minutes=1)
    head = s3.head_object(Bucket=bucket, Key="docs/hello.txt")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == etag
    assert head["Metadata"] == got["Metadata"]


def test_default_content_type_and_empty_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentType"] == "binary/octet-stream"
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.head_object(Bucket=bucket, Key="empty")["ContentLength"] == 0


def test_checksums_with_the_boto3_default_streaming_upload(s3: Any, bucket: str) -> None:
    """boto3 sends an aws-chunked body with a CRC32 trailer by default; GetObject hands the checksum back."""
    put = s3.put_object(Bucket=bucket, Key="crc", Body=b"checksummed")
    assert put["ChecksumCRC32"]
    got = s3.get_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"checksummed"  # botocore validates the CRC32 as it reads
    assert got["ChecksumCRC32"] == put["ChecksumCRC32"]
    assert got["ChecksumType"] == "FULL_OBJECT"
    sha = s3.put_object(Bucket=bucket, Key="sha", Body=b"abc", ChecksumAlgorithm="SHA256")
    assert sha["ChecksumSHA256"] == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="


def test_wrong_checksum_or_md5_is_rejected(s3: Any, bucket: str) -> None:
    wrong_sha = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"abc", ChecksumSHA256="A" * 43 + "=")
    assert (wrong_sha["Code"], wrong_sha["Status"]) == ("BadDigest", 400)
    wrong_md5 = error_of(
        s3.put_object, Bucket=bucket, Key="k", Body=b"abc", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg=="
    )
    assert wrong_md5["Code"] == "BadDigest"
    assert error_of(s3.head_object, Bucket=bucket, Key="k")["Code"] == "404"


def test_no_such_key_is_an_xml_error_and_head_errors_have_no_body(
    s3: Any, bucket: str, server: RunningServer
) -> None:
    error = error_of(s3.get_object, Bucket=bucket, Key="missing/key.txt")
    assert (error["Code"], error["Status"], error["Key"]) == ("NoSuchKey", 404, "missing/key.txt")
    assert error["Message"] == "The specified key does not exist."
    raw = httpx.get(f"{server.endpoint}/{bucket}/missing/key.txt")
    assert raw.status_code == 404
    assert raw.headers["content-type"] == "application/xml"
    assert "<Code>NoSuchKey</Code>" in raw.text and "<Key>missing/key.txt</Key>" in raw.text
    head = httpx.head(f"{server.endpoint}/{bucket}/missing/key.txt")
    assert head.status_code == 404 and head.content == b""
    assert error_of(s3.head_object, Bucket=bucket, Key="missing")["Code"] == "404"


def test_range_requests(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)

    def fetch(spec: str) -> tuple[int, bytes, str | None]:
        got = s3.get_object(Bucket=bucket, Key="r", Range=spec)
        return got["ResponseMetadata"]["HTTPStatusCode"], got["Body"].read(), got.get("ContentRange")

    assert fetch("bytes=0-9") == (206, body[:10], "bytes 0-9/1024")
    assert fetch("bytes=1000-") == (206, body[1000:], "bytes 1000-1023/1024")
    assert fetch("bytes=-24") == (206, body[-24:], "bytes 1000-1023/1024")
    assert fetch("bytes=1000-5000") == (206, body[1000:], "bytes 1000-1023/1024")
    assert fetch("bytes=5-1") == (200, body, None)  # invalid ranges are ignored, as S3 does
    error = error_of(s3.get_object, Bucket=bucket, Key="r", Range="bytes=2000-")
    assert (error["Code"], error["Status"]) == ("InvalidRange", 416)
    head = s3.head_object(Bucket=bucket, Key="r", Range="bytes=0-99")
    assert head["ContentLength"] == 100 and head["ContentRange"] == "bytes 0-99/1024"


def test_large_object_is_streamed_with_ranges(s3: Any, bucket: str) -> None:
    body = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32 + 7)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["ContentLength"] == len(body)
    assert got["Body"].read() == body
    part = s3.get_object(Bucket=bucket, Key="big", Range="bytes=1048570-2621440")
    assert part["Body"].read() == body[1048570:2621441]


def test_conditional_reads(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    later = datetime.now(UTC) + timedelta(hours=1)
    earlier = datetime.now(UTC) - timedelta(hours=1)
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    assert error_of(s3.get_object, Bucket=bucket, Key="c", IfNoneMatch=etag)["Code"] == "304"
    assert error_of(s3.head_object, Bucket=bucket, Key="c", IfNoneMatch=etag)["Status"] == 304
    assert error_of(s3.get_object, Bucket=bucket, Key="c", IfModifiedSince=later)["Status"] == 304
    failed = error_of(s3.get_object, Bucket=bucket, Key="c", IfMatch='"0000"')
    assert (failed["Code"], failed["Status"], failed["Condition"]) == ("PreconditionFailed", 412, "If-Match")
    assert error_of(s3.get_object, Bucket=bucket, Key="c", IfUnmodifiedSince=earlier)["Status"] == 412
    # a matching If-Match outranks a failing If-Unmodified-Since; If-None-Match outranks If-Modified-Since
    assert (
        s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=earlier)["Body"].read() == b"v1"
    )
    assert s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"other"', IfModifiedSince=later)["ETag"] == etag
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=earlier)["ETag"] == etag


def test_conditional_writes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    error = error_of(s3.put_object, Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert (error["Code"], error["Status"]) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_overwrite_and_delete(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_object, Bucket=bucket, Key="k")["Code"] == "NoSuchKey"


def test_delete_objects(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b", "zz"]
    assert "Errors" not in result
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_copy_object(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="src/a b+c.txt", Body=b"data", ContentType="text/plain", Metadata={"m": "1"}
    )
    copied = s3.copy_object(
        Bucket=bucket, Key="dst/copy", CopySource={"Bucket": bucket, "Key": "src/a b+c.txt"}
    )
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"data").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dst/copy")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (b"data", "text/plain", {"m": "1"})
    s3.copy_object(
        Bucket=bucket,
        Key="dst/replaced",
        CopySource=f"{bucket}/src/a b+c.txt",
        MetadataDirective="REPLACE",
        ContentType="application/json",
        Metadata={"n": "2"},
    )
    replaced = s3.head_object(Bucket=bucket, Key="dst/replaced")
    assert (replaced["ContentType"], replaced["Metadata"]) == ("application/json", {"n": "2"})
    itself = error_of(s3.copy_object, Bucket=bucket, Key="dst/copy", CopySource=f"{bucket}/dst/copy")
    assert itself["Code"] == "InvalidRequest"
    s3.copy_object(
        Bucket=bucket, Key="dst/copy", CopySource=f"{bucket}/dst/copy", MetadataDirective="REPLACE"
    )
    assert (
        error_of(s3.copy_object, Bucket=bucket, Key="x", CopySource=f"{bucket}/nope")["Code"] == "NoSuchKey"
    )
    s3.put_object(Bucket=bucket, Key="src/a b+c.txt", Body=b"changed")
    assert s3.get_object(Bucket=bucket, Key="dst/copy")["Body"].read() == b"data"


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="team=ml&stage=dev")
    assert (
        s3.head_object(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"]
        == "2"
    )
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("stage", "dev"), ("team", "ml")]
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "k", "Value": "v"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []


def test_keys_with_special_characters(s3: Any, bucket: str) -> None:
    keys = ["a b/c+d", "ünïcødé/☃.txt", "q?x=1&y=2", "pct%2Fliteral", "trailing/", "dots/../x", "tab\tkey"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()


# -- listing ------------------------------------------------------------------------------------------------


def _fill(s3: Any, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")


TREE = ["a.txt", "b/1", "b/2", "b/c/3", "d/4", "e.txt", "f/g/5", "z"]


def test_list_objects_v2_with_delimiter(s3: Any, bucket: str) -> None:
    _fill(s3, bucket, TREE)
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt", "e.txt", "z"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["b/", "d/", "f/"]
    assert top["KeyCount"] == 6 and top["IsTruncated"] is False
    inner = s3.list_objects_v2(Bucket=bucket, Prefix="b/", Delimiter="/")
    assert [o["Key"] for o in inner["Contents"]] == ["b/1", "b/2"]
    assert [p["Prefix"] for p in inner["CommonPrefixes"]] == ["b/c/"]
    assert inner["Prefix"] == "b/"
    obj = inner["Contents"][0]
    assert obj["Size"] == 1 and obj["StorageClass"] == "STANDARD" and obj["ETag"].startswith('"')
    assert s3.list_objects_v2(Bucket=bucket, Prefix="nothing/")["KeyCount"] == 0


@pytest.mark.parametrize("delimiter", ["", "/"])
def test_list_objects_v2_pagination(s3: Any, bucket: str, delimiter: str) -> None:
    _fill(s3, bucket, TREE)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 2, "Delimiter": delimiter}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        pages += 1
        assert page["KeyCount"] <= 2
        seen += [o["Key"] for o in page.get("Contents", [])] + [
            p["Prefix"] for p in page.get("CommonPrefixes", [])
        ]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    expected = TREE if not delimiter else ["a.txt", "b/", "d/", "e.txt", "f/", "z"]
    assert sorted(seen) == sorted(expected)
    assert pages == (len(expected) + 1) // 2
    via_paginator = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 3}
        )
        for o in page.get("Contents", [])
    ]
    assert via_paginator == TREE


def test_list_objects_v2_start_after_and_bad_token(s3: Any, bucket: str) -> None:
    _fill(s3, bucket, TREE)
    page = s3.list_objects_v2(Bucket=bucket, StartAfter="b/2")
    assert [o["Key"] for o in page["Contents"]] == ["b/c/3", "d/4", "e.txt", "f/g/5", "z"]
    assert page["StartAfter"] == "b/2"
    assert (
        error_of(s3.list_objects_v2, Bucket=bucket, ContinuationToken="garbage!")["Code"] == "InvalidArgument"
    )


def test_list_objects_v1_with_markers(s3: Any, bucket: str) -> None:
    _fill(s3, bucket, TREE)
    first = s3.list_objects(Bucket=bucket, MaxKeys=3, Delimiter="/")
    assert [o["Key"] for o in first["Contents"]] == ["a.txt"]
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["b/", "d/"]
    assert first["IsTruncated"] and first["NextMarker"] == "d/"
    assert first["Contents"][0]["Owner"]["ID"]
    second = s3.list_objects(Bucket=bucket, MaxKeys=3, Delimiter="/", Marker=first["NextMarker"])
    assert [o["Key"] for o in second["Contents"]] == ["e.txt", "z"]
    assert [p["Prefix"] for p in second["CommonPrefixes"]] == ["f/"]
    assert not second["IsTruncated"]
    all_keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 3})
        for o in page["Contents"]
    ]
    assert all_keys == TREE


# -- plain HTTP ---------------------------------------------------------------------------------------------


def test_presigned_get_and_put_with_plain_http(s3: Any, bucket: str) -> None:
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "up/loaded.bin"}, ExpiresIn=300
    )
    body = b"\x00\x01presigned"
    assert httpx.put(put_url, content=body).status_code == 200
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "up/loaded.bin"}, ExpiresIn=300
    )
    response = httpx.get(get_url)
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
    ranged = httpx.get(get_url, headers={"Range": "bytes=2-"})
    assert (ranged.status_code, ranged.content) == (206, b"presigned")


def test_virtual_hosted_style(server: RunningServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="vh/key", Body=b"virtual")
    host = f"{bucket}.localhost:{server.port}"
    response = httpx.get(f"{server.endpoint}/vh/key", headers={"Host": host})
    assert (response.status_code, response.content) == (200, b"virtual")
    listing = httpx.get(f"{server.endpoint}/?list-type=2", headers={"Host": host})
    assert "<Key>vh/key</Key>" in listing.text


def test_aws_chunked_upload_with_a_checksum_trailer(s3: Any, bucket: str, server: RunningServer) -> None:
    """What boto3 sends over HTTPS by default: an aws-chunked body whose CRC32 comes in a trailer."""
    data = b"chunked upload " * 5000
    body = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=16 * 1024,
    ).read()
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Sdk-Checksum-Algorithm": "CRC32",
        "Content-Type": "text/plain",
        # dev mode takes any key, but S3 writes must be signed (tests/protocol/test_origin.py)
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAOUTCROPTEST/20261206/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=00",
    }
    response = httpx.put(f"{server.endpoint}/{bucket}/chunked.txt", content=body, headers=headers)
    assert response.status_code == 200, response.text
    got = s3.get_object(Bucket=bucket, Key="chunked.txt", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert "ContentEncoding" not in got  # aws-chunked describes the transfer, not the object
    assert got["ChecksumCRC32"] == response.headers["x-amz-checksum-crc32"]
    corrupt = body.replace(b"x-amz-checksum-crc32:", b"x-amz-checksum-crc32:AAAA")
    bad = httpx.put(f"{server.endpoint}/{bucket}/corrupt.txt", content=corrupt, headers=headers)
    assert bad.status_code == 400 and "<Code>BadDigest</Code>" in bad.text
