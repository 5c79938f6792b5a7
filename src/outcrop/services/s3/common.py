"""What the S3 service's modules share: error translation, request headers to object attributes and back,
listing encodings."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import parse_qsl, quote, unquote

from outcrop.concurrency import run_blocking
from outcrop.kms.envelope import InvalidEncryptionContext
from outcrop.kms.keys import KmsError
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.s3 import errors as _s3_errors
from outcrop.storage.objects import (
    CHECKSUM_ALGORITHMS,
    InvalidRange,
    NotModified,
    ObjectAttributes,
    ObjectInfo,
    ObjectStore,
    StoreError,
)
from outcrop.storage.preconditions import check_preconditions, check_write_preconditions

Params = dict[str, Any]
Output = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])

_HEADER_MEMBERS = (
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "WebsiteRedirectLocation",
    "StorageClass",
)
_OVERRIDES = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "ContentType")
_SMALL = 1024 * 1024  # objects up to this size are sent in one piece
_CHUNK = 1024 * 1024
_DEFAULT_TYPE = "binary/octet-stream"
_US_EAST_1 = "us-east-1"


# Operations S3 answers whatever region signed them: they make, find or list buckets.
_ANY_REGION = frozenset({"CreateBucket", "GetBucketLocation", "ListBuckets", "ListDirectoryBuckets"})


def _translating(method: F) -> F:
    """Store errors carry S3's codes and error-body details; pass them on as S3 errors. Every operation
    on a bucket is first held to the bucket's region (see `check_bucket_region`)."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            if len(args) == 3 and isinstance(args[1], RequestContext):
                check_bucket_region(args[0].store, args[1], args[2])
            return method(*args, **kwargs)
        except StoreError as exc:
            raise _from_store(exc) from exc
        except InvalidEncryptionContext as exc:  # the caller's header, not KMS's answer: S3's own code
            raise _s3_errors.InvalidArgument(
                "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string "
                "holding JSON which represents a string-string map"
            ) from exc
        except KmsError as exc:  # KMS's answer about an object's key, worded as S3 words it
            raise ServiceError(exc.message, code=f"KMS.{exc.code}", status=400, sender_fault=True) from exc

    return cast(F, run)


def check_bucket_region(store: ObjectStore, ctx: RequestContext, params: Params) -> None:
    """A request signed (SigV4) for another region than the bucket's is refused as S3 refuses it:
    AuthorizationHeaderMalformed naming the bucket's region, which SDKs follow by signing again for it.
    Unsigned and SigV2 requests name no region, so nothing is checked for them."""
    bucket = params.get("Bucket")
    signed = ctx.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256")
    if not bucket or not signed or ctx.operation in _ANY_REGION:
        return
    region = store.get_bucket(str(bucket)).region
    if region != ctx.region:
        raise _s3_errors.AuthorizationHeaderMalformed(
            f"The authorization header is malformed; the region '{ctx.region}' is wrong; "
            f"expecting '{region}'",
            extra={"Region": region},
            headers={"x-amz-bucket-region": region},
        )


def _from_store(exc: StoreError) -> ServiceError:
    if isinstance(exc, NotModified):
        error: ServiceError = _s3_errors.NotModified("Not Modified")
        modified = datetime.fromisoformat(exc.details["LastModified"])
        error.headers.update(
            {"etag": exc.details["ETag"], "last-modified": format_datetime(modified, usegmt=True)}
        )
        return error
    error = _s3_errors.STORE_ERRORS[exc.code](exc.message, extra=dict(exc.details))
    if isinstance(exc, InvalidRange):
        error.headers["content-range"] = f"bytes */{exc.details['ActualObjectSize']}"
    return error


def _owner(ctx: RequestContext) -> dict[str, str]:
    return {"DisplayName": "outcrop", "ID": hashlib.sha256(ctx.account_id.encode()).hexdigest()}


def _checksums(params: Params) -> dict[str, str]:
    return {alg: params[f"Checksum{alg}"] for alg in CHECKSUM_ALGORITHMS if params.get(f"Checksum{alg}")}


def _attributes(params: Params) -> ObjectAttributes:
    """The object attributes a PutObject / CreateMultipartUpload / CopyObject (REPLACE) request sets."""
    headers = {name: str(params[name]) for name in _HEADER_MEMBERS if params.get(name)}
    encodings = [e.strip() for e in headers.pop("ContentEncoding", "").split(",") if e.strip()]
    encodings = [e for e in encodings if e != "aws-chunked"]  # a transfer detail, not the object's
    if encodings:
        headers["ContentEncoding"] = ",".join(encodings)
    if isinstance(params.get("Expires"), datetime):
        headers["Expires"] = params["Expires"].isoformat()
    return ObjectAttributes(
        content_type=params.get("ContentType") or _DEFAULT_TYPE,
        metadata=dict(params.get("Metadata") or {}),
        headers=headers,
        checksums=_checksums(params),
        checksum_algorithm=params.get("ChecksumAlgorithm"),
        checksum_type=params.get("ChecksumType"),
        tags=dict(parse_qsl(params.get("Tagging") or "", keep_blank_values=True)),
        encryption=_encryption(params),
    )


_ENCRYPTION_MEMBERS = ("ServerSideEncryption", "SSEKMSKeyId", "SSEKMSEncryptionContext", "BucketKeyEnabled")


def _encryption(params: Params) -> dict[str, str]:
    """The encryption at rest a write asks for (SSE-S3 or SSE-KMS); SSE-C and DSSE-KMS are refused."""
    if params.get("SSECustomerAlgorithm") or params.get("SSECustomerKey"):
        raise _s3_errors.S3NotImplemented(
            "Outcrop does not implement server-side encryption with customer-provided keys (SSE-C)."
        )
    algorithm = params.get("ServerSideEncryption")
    if algorithm is None:
        if params.get("SSEKMSKeyId") or params.get("SSEKMSEncryptionContext"):
            raise _s3_errors.InvalidArgument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms",
                extra={"ArgumentName": "x-amz-server-side-encryption"},
            )
        return {}
    if algorithm not in ("AES256", "aws:kms"):
        raise _s3_errors.InvalidArgument(
            f"The encryption method specified is not supported: {algorithm}"
            + (" (Outcrop does not implement DSSE-KMS)" if algorithm == "aws:kms:dsse" else ""),
            extra={"ArgumentName": "x-amz-server-side-encryption", "ArgumentValue": str(algorithm)},
        )
    if algorithm == "AES256" and params.get("SSEKMSKeyId"):
        raise _s3_errors.InvalidArgument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms",
            extra={"ArgumentName": "x-amz-server-side-encryption-aws-kms-key-id"},
        )
    found = {name: params[name] for name in _ENCRYPTION_MEMBERS if params.get(name) is not None}
    if "BucketKeyEnabled" in found:
        found["BucketKeyEnabled"] = str(bool(params["BucketKeyEnabled"])).lower()
    return {k: str(v) for k, v in found.items()}


def _encryption_output(info: ObjectInfo) -> Output:
    """The encryption response headers of an object stored encrypted."""
    fields = info.attributes.encryption
    out: Output = {}
    if fields.get("ServerSideEncryption"):
        out["ServerSideEncryption"] = fields["ServerSideEncryption"]
    if fields.get("SSEKMSKeyId"):
        out["SSEKMSKeyId"] = fields["SSEKMSKeyId"]
    if fields.get("BucketKeyEnabled"):
        out["BucketKeyEnabled"] = fields["BucketKeyEnabled"] == "true"
    return out


def _object_headers(info: ObjectInfo) -> Output:
    """The response headers that describe a stored object (GetObject, HeadObject)."""
    attrs = info.attributes
    out: Output = {
        "ContentType": attrs.content_type,
        "ETag": info.etag,
        "LastModified": info.last_modified.replace(microsecond=0),
        "AcceptRanges": "bytes",
        "Metadata": dict(attrs.metadata),
        **{k: v for k, v in attrs.headers.items() if k != "Expires" and k != "StorageClass"},
    }
    if attrs.headers.get("StorageClass", "STANDARD") != "STANDARD":
        out["StorageClass"] = attrs.headers["StorageClass"]
    if "Expires" in attrs.headers:
        out["Expires"] = datetime.fromisoformat(attrs.headers["Expires"])
    if attrs.tags:
        out["TagCount"] = len(attrs.tags)
    out.update(_encryption_output(info))
    return out


def _check_preconditions(params: Params, info: ObjectInfo, prefix: str = "") -> None:
    check_preconditions(
        info,
        if_match=params.get(f"{prefix}IfMatch"),
        if_none_match=params.get(f"{prefix}IfNoneMatch"),
        if_modified_since=params.get(f"{prefix}IfModifiedSince"),
        if_unmodified_since=params.get(f"{prefix}IfUnmodifiedSince"),
        copy_source=bool(prefix),
    )


def _copy_source(value: str) -> tuple[str, str]:
    source = unquote(value.split("?versionId=", 1)[0]).lstrip("/")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise _s3_errors.InvalidArgument(
            "Invalid copy source object key", extra={"ArgumentName": "x-amz-copy-source"}
        )
    return bucket, key


def _encoder(params: Params) -> Callable[[str], str]:
    """ListObjects with `encoding-type=url` (botocore always asks) answers keys URL-encoded."""
    if params.get("EncodingType") == "url":
        return lambda text: quote(text, safe="/")
    return lambda text: text


async def _stream(handle: BinaryIO, length: int) -> AsyncIterator[bytes]:
    """Read an open blob in worker threads, one chunk at a time, so large objects never sit in memory."""
    try:
        remaining = length
        while remaining > 0:
            chunk = await run_blocking(functools.partial(handle.read, min(_CHUNK, remaining)))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


class _Window:
    """A read-only view of `length` bytes of an open file, for UploadPartCopy of a byte range."""

    def __init__(self, handle: BinaryIO, length: int) -> None:
        self._handle = handle
        self._left = length

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._handle.read(size)
        self._left -= len(data)
        return data


def _check_write_conditions(store: ObjectStore, params: Params, bucket: str, key: str) -> None:
    """If-Match / If-None-Match on a write, checked against the object there now."""
    if params.get("IfNoneMatch") is None and params.get("IfMatch") is None:
        return
    try:
        current: ObjectInfo | None = store.head_object(bucket, key)
    except StoreError as exc:
        if exc.code != "NoSuchKey":
            raise
        current = None
    check_write_preconditions(
        current, key, if_match=params.get("IfMatch"), if_none_match=params.get("IfNoneMatch")
    )


def _checksum_output(info: ObjectInfo) -> Output:
    out: Output = {f"Checksum{alg}": value for alg, value in info.attributes.checksums.items()}
    if out and info.attributes.checksum_type:
        out["ChecksumType"] = info.attributes.checksum_type
    return out
