"""Amazon S3: buckets, objects and multipart uploads over the object store, with S3's HTTP semantics
(ranges, conditional requests, URL-encoded listings, the legacy us-east-1 quirks) kept here, out of the store.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import parse_qsl, quote, unquote

from outcrop.concurrency import run_blocking
from outcrop.protocol.errors import ServiceError
from outcrop.protocol.serialize import StreamingBlob
from outcrop.services.base import RequestContext, Service
from outcrop.storage.objects import (
    CHECKSUM_ALGORITHMS,
    Bucket,
    InvalidRange,
    NotModified,
    ObjectAttributes,
    ObjectInfo,
    ObjectStore,
    StoreError,
)
from outcrop.storage.preconditions import byte_range, check_preconditions, check_write_preconditions

Params = dict[str, Any]
Output = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])

_STATUS = {
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchUpload": 404,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "InvalidRange": 416,
    "PreconditionFailed": 412,
}
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


def _error(code: str, message: str, **details: Any) -> ServiceError:
    return ServiceError(message, code=code, status=_STATUS.get(code, 400), sender_fault=True, extra=details)


def _translating(method: F) -> F:
    """Store errors carry S3's codes and error-body details; pass them on as S3 errors."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except StoreError as exc:
            raise _from_store(exc) from exc

    return cast(F, run)


def _from_store(exc: StoreError) -> ServiceError:
    if isinstance(exc, NotModified):
        error = ServiceError("Not Modified", code="NotModified", status=304, sender_fault=True)
        modified = datetime.fromisoformat(exc.details["LastModified"])
        error.headers.update(
            {"etag": exc.details["ETag"], "last-modified": format_datetime(modified, usegmt=True)}
        )
        return error
    error = _error(exc.code, exc.message, **exc.details)
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
    )


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
        raise _error("InvalidArgument", "Invalid copy source object key", ArgumentName="x-amz-copy-source")
    return bucket, key


def _token(marker: str) -> str:
    return base64.urlsafe_b64encode(b"1:" + marker.encode()).decode()


def _untoken(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode())
    except (ValueError, TypeError) as exc:
        raise _error("InvalidArgument", "The continuation token provided is incorrect") from exc
    if not raw.startswith(b"1:"):
        raise _error("InvalidArgument", "The continuation token provided is incorrect")
    return raw[2:].decode()


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


class S3(Service):
    service_name = "s3"

    @property
    def store(self) -> ObjectStore:
        return self.app.objects

    def close(self) -> None:
        if "objects" in self.app.__dict__:
            self.store.close()

    # -- buckets --------------------------------------------------------------------------------------------

    @_translating
    def create_bucket(self, ctx: RequestContext, params: Params) -> Output:
        name = params["Bucket"]
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        if constraint == _US_EAST_1:
            raise _error(
                "InvalidLocationConstraint",
                "The specified location-constraint is not valid",
                LocationConstraint=constraint,
            )
        if ctx.region != _US_EAST_1 and constraint != ctx.region:
            said = constraint or "unspecified"
            raise _error(
                "IllegalLocationConstraintException",
                f"The {said} location constraint is incompatible for the region specific endpoint "
                "this request was sent to.",
            )
        try:
            self.store.create_bucket(name, constraint or _US_EAST_1)
        except StoreError as exc:
            # S3's legacy behaviour: re-creating your own bucket in us-east-1 succeeds
            if exc.code != "BucketAlreadyOwnedByYou" or ctx.region != _US_EAST_1:
                raise
        return {"Location": f"/{name}"}

    @_translating
    def head_bucket(self, ctx: RequestContext, params: Params) -> Output:
        bucket = self.store.get_bucket(params["Bucket"])
        return {"BucketRegion": bucket.region, "AccessPointAlias": False}

    @_translating
    def delete_bucket(self, ctx: RequestContext, params: Params) -> Output:
        self.store.delete_bucket(params["Bucket"])
        return {}

    @_translating
    def list_buckets(self, ctx: RequestContext, params: Params) -> Output:
        prefix = params.get("Prefix") or ""
        after = _untoken(params["ContinuationToken"]) if params.get("ContinuationToken") else ""
        buckets = [
            b
            for b in self.store.list_buckets()
            if b.name.startswith(prefix) and b.name > after and params.get("BucketRegion") in (None, b.region)
        ]
        limit = params.get("MaxBuckets") or 10_000
        out: Output = {"Buckets": [self._bucket(b) for b in buckets[:limit]], "Owner": _owner(ctx)}
        if prefix:
            out["Prefix"] = prefix
        if len(buckets) > limit:
            out["ContinuationToken"] = _token(buckets[limit - 1].name)
        return out

    @staticmethod
    def _bucket(bucket: Bucket) -> Output:
        return {"Name": bucket.name, "CreationDate": bucket.created, "BucketRegion": bucket.region}

    @_translating
    def get_bucket_location(self, ctx: RequestContext, params: Params) -> Output:
        region = self.store.get_bucket(params["Bucket"]).region
        return {"LocationConstraint": None if region == _US_EAST_1 else region}

    @_translating
    def get_bucket_versioning(self, ctx: RequestContext, params: Params) -> Output:
        self.store.get_bucket(params["Bucket"])
        return {}  # versioning is never enabled: S3 answers an empty configuration

    # -- objects --------------------------------------------------------------------------------------------

    @_translating
    def put_object(self, ctx: RequestContext, params: Params) -> Output:
        bucket, key = params["Bucket"], params["Key"]
        self._check_write_conditions(params, bucket, key)
        info = self.store.put_object(
            bucket, key, params.get("Body") or b"", _attributes(params), content_md5=params.get("ContentMD5")
        )
        return {"ETag": info.etag, **self._checksum_output(info)}

    def _check_write_conditions(self, params: Params, bucket: str, key: str) -> None:
        if params.get("IfNoneMatch") is None and params.get("IfMatch") is None:
            return
        try:
            current: ObjectInfo | None = self.store.head_object(bucket, key)
        except StoreError as exc:
            if exc.code != "NoSuchKey":
                raise
            current = None
        check_write_preconditions(
            current, key, if_match=params.get("IfMatch"), if_none_match=params.get("IfNoneMatch")
        )

    @staticmethod
    def _checksum_output(info: ObjectInfo) -> Output:
        out: Output = {f"Checksum{alg}": value for alg, value in info.attributes.checksums.items()}
        if out and info.attributes.checksum_type:
            out["ChecksumType"] = info.attributes.checksum_type
        return out

    @_translating
    def head_object(self, ctx: RequestContext, params: Params) -> Output:
        info = self.store.head_object(params["Bucket"], params["Key"])
        out, _ = self._read_plan(params, info)
        return out

    @_translating
    def get_object(self, ctx: RequestContext, params: Params) -> Output:
        info, handle = self.store.open_object(params["Bucket"], params["Key"])
        try:
            out, (first, length) = self._read_plan(params, info)
            handle.seek(first)
            if length <= _SMALL:
                out["Body"] = handle.read(length)
                handle.close()
            else:
                out["Body"] = StreamingBlob(_stream(handle, length), length)
        except BaseException:
            handle.close()
            raise
        return out

    def _read_plan(self, params: Params, info: ObjectInfo) -> tuple[Output, tuple[int, int]]:
        """Headers of a GetObject/HeadObject answer and the (offset, length) of bytes it sends."""
        _check_preconditions(params, info)
        part = params.get("PartNumber")
        if part is not None and part != 1:
            raise _error(
                "InvalidPartNumber", "The requested partnumber is not satisfiable", PartNumberRequested=part
            )
        out = _object_headers(info)
        window = byte_range(params.get("Range"), info.size)
        if window is None:
            first, length = 0, info.size
            if params.get("ChecksumMode") == "ENABLED":
                out.update(self._checksum_output(info))
        else:
            first, length = window[0], window[1] - window[0] + 1
            out["ContentRange"] = f"bytes {window[0]}-{window[1]}/{info.size}"
        if part is not None:
            out["PartsCount"] = info.parts_count or 1
        out["ContentLength"] = length
        for name in _OVERRIDES:
            if params.get(f"Response{name}"):
                out[name] = params[f"Response{name}"]
        if isinstance(params.get("ResponseExpires"), datetime):
            out["Expires"] = params["ResponseExpires"]
        return out, (first, length)

    @_translating
    def delete_object(self, ctx: RequestContext, params: Params) -> Output:
        self.store.delete_object(params["Bucket"], params["Key"])
        return {}

    @_translating
    def delete_objects(self, ctx: RequestContext, params: Params) -> Output:
        bucket = params["Bucket"]
        entries = params["Delete"].get("Objects") or []
        if len(entries) > 1000:
            raise _error(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
            )
        self.store.get_bucket(bucket)
        deleted, errors = [], []
        for entry in entries:
            try:
                self.store.delete_object(bucket, entry["Key"])
                deleted.append({"Key": entry["Key"]})
            except StoreError as exc:
                errors.append({"Key": entry["Key"], "Code": exc.code, "Message": exc.message})
        out: Output = {"Errors": errors} if errors else {}
        if not params["Delete"].get("Quiet"):
            out["Deleted"] = deleted
        return out

    @_translating
    def copy_object(self, ctx: RequestContext, params: Params) -> Output:
        source_bucket, source_key = _copy_source(params["CopySource"])
        bucket, key = params["Bucket"], params["Key"]
        source = self.store.head_object(source_bucket, source_key)
        _check_preconditions(params, source, prefix="CopySource")
        replace_meta = params.get("MetadataDirective") == "REPLACE"
        replace_tags = params.get("TaggingDirective") == "REPLACE"
        if (
            (source_bucket, source_key) == (bucket, key)
            and not replace_meta
            and not params.get("StorageClass")
        ):
            raise _error(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself without "
                "changing the object's metadata, storage class, website redirect location or encryption "
                "attributes.",
            )
        attributes = None
        if replace_meta or replace_tags:
            wanted = _attributes(params)
            base = wanted if replace_meta else source.attributes
            attributes = ObjectAttributes(
                content_type=base.content_type,
                metadata=base.metadata,
                headers=base.headers,
                tags=wanted.tags if replace_tags else source.attributes.tags,
            )
        info = self.store.copy_object(source_bucket, source_key, bucket, key, attributes)
        result = {"ETag": info.etag, "LastModified": info.last_modified, **self._checksum_output(info)}
        return {"CopyObjectResult": result}

    @_translating
    def list_objects_v2(self, ctx: RequestContext, params: Params) -> Output:
        token = params.get("ContinuationToken")
        after = _untoken(token) if token else params.get("StartAfter") or ""
        out, listing = self._list(ctx, params, after, owner=bool(params.get("FetchOwner")))
        out["KeyCount"] = len(out.get("Contents", [])) + len(out.get("CommonPrefixes", []))
        encode = _encoder(params)
        if token:
            out["ContinuationToken"] = token
        if params.get("StartAfter"):
            out["StartAfter"] = encode(params["StartAfter"])
        if listing.truncated and listing.next_marker is not None:
            out["NextContinuationToken"] = _token(listing.next_marker)
        return out

    @_translating
    def list_objects(self, ctx: RequestContext, params: Params) -> Output:
        marker = params.get("Marker") or ""
        out, listing = self._list(ctx, params, marker, owner=True)
        encode = _encoder(params)
        out["Marker"] = encode(marker)
        if listing.truncated and params.get("Delimiter") and listing.next_marker is not None:
            out["NextMarker"] = encode(listing.next_marker)
        return out

    def _list(self, ctx: RequestContext, params: Params, after: str, *, owner: bool) -> tuple[Output, Any]:
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
        max_keys = min(1000, params["MaxKeys"]) if params.get("MaxKeys") is not None else 1000
        if max_keys < 0:
            raise _error(
                "InvalidArgument",
                "Argument maxKeys must be an integer between 0 and 2147483647",
                ArgumentName="maxKeys",
                ArgumentValue=str(max_keys),
            )
        listing = self.store.list_objects(
            params["Bucket"], prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
        )
        encode = _encoder(params)
        contents = []
        for info in listing.objects:
            item: Output = {
                "Key": encode(info.key),
                "LastModified": info.last_modified,
                "ETag": info.etag,
                "Size": info.size,
                "StorageClass": info.attributes.headers.get("StorageClass", "STANDARD"),
            }
            if info.attributes.checksums:
                item["ChecksumAlgorithm"] = list(info.attributes.checksums)
                item["ChecksumType"] = info.attributes.checksum_type
            if owner:
                item["Owner"] = _owner(ctx)
            contents.append(item)
        out: Output = {
            "Name": params["Bucket"],
            "Prefix": encode(prefix),
            "MaxKeys": max_keys,
            "IsTruncated": listing.truncated,
        }
        if contents:
            out["Contents"] = contents
        if listing.common_prefixes:
            out["CommonPrefixes"] = [{"Prefix": encode(p)} for p in listing.common_prefixes]
        if delimiter:
            out["Delimiter"] = encode(delimiter)
        if params.get("EncodingType"):
            out["EncodingType"] = params["EncodingType"]
        return out, listing

    # -- tagging --------------------------------------------------------------------------------------------

    @_translating
    def get_object_tagging(self, ctx: RequestContext, params: Params) -> Output:
        info = self.store.head_object(params["Bucket"], params["Key"])
        return {"TagSet": [{"Key": k, "Value": v} for k, v in info.attributes.tags.items()]}

    @_translating
    def put_object_tagging(self, ctx: RequestContext, params: Params) -> Output:
        tags = {t["Key"]: t["Value"] for t in params["Tagging"].get("TagSet") or []}
        if len(tags) > 10:
            raise _error("BadRequest", "Object tags cannot be greater than 10")
        self.store.set_tags(params["Bucket"], params["Key"], tags)
        return {}

    @_translating
    def delete_object_tagging(self, ctx: RequestContext, params: Params) -> Output:
        self.store.set_tags(params["Bucket"], params["Key"], {})
        return {}

    # -- multipart uploads ----------------------------------------------------------------------------------

    @_translating
    def create_multipart_upload(self, ctx: RequestContext, params: Params) -> Output:
        attributes = _attributes(params)
        if attributes.checksum_type and not attributes.checksum_algorithm:
            raise _error(
                "InvalidRequest",
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
            )
        upload = self.store.create_upload(params["Bucket"], params["Key"], attributes)
        out: Output = {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.upload_id}
        if attributes.checksum_algorithm:
            out["ChecksumAlgorithm"] = attributes.checksum_algorithm
            out["ChecksumType"] = attributes.checksum_type or "COMPOSITE"
        return out

    @_translating
    def upload_part(self, ctx: RequestContext, params: Params) -> Output:
        part = self.store.upload_part(
            params["Bucket"],
            params["Key"],
            params["UploadId"],
            params["PartNumber"],
            params.get("Body") or b"",
            _checksums(params),
            content_md5=params.get("ContentMD5"),
        )
        return {"ETag": part.etag, **{f"Checksum{alg}": v for alg, v in part.checksums.items()}}

    @_translating
    def upload_part_copy(self, ctx: RequestContext, params: Params) -> Output:
        source_bucket, source_key = _copy_source(params["CopySource"])
        self.store.get_upload(params["Bucket"], params["Key"], params["UploadId"])
        info, handle = self.store.open_object(source_bucket, source_key)
        with handle:
            _check_preconditions(params, info, prefix="CopySource")
            window = (
                byte_range(params.get("CopySourceRange"), info.size)
                if params.get("CopySourceRange")
                else None
            )
            first, last = window if window is not None else (0, info.size - 1)
            handle.seek(first)
            part = self.store.upload_part(
                params["Bucket"],
                params["Key"],
                params["UploadId"],
                params["PartNumber"],
                cast(BinaryIO, _Window(handle, last - first + 1)),
                {},
            )
        result = {"ETag": part.etag, "LastModified": part.last_modified}
        return {"CopyPartResult": {**result, **{f"Checksum{alg}": v for alg, v in part.checksums.items()}}}

    @_translating
    def complete_multipart_upload(self, ctx: RequestContext, params: Params) -> Output:
        bucket, key = params["Bucket"], params["Key"]
        parts = (params.get("MultipartUpload") or {}).get("Parts") or []
        self._check_write_conditions(params, bucket, key)
        info = self.store.complete_upload(
            bucket, key, params["UploadId"], [(p.get("PartNumber", 0), p.get("ETag", "")) for p in parts]
        )
        return {
            "Location": f"{ctx.base_url}/{bucket}/{quote(key)}",
            "Bucket": bucket,
            "Key": key,
            "ETag": info.etag,
            **self._checksum_output(info),
        }

    @_translating
    def abort_multipart_upload(self, ctx: RequestContext, params: Params) -> Output:
        self.store.abort_upload(params["Bucket"], params["Key"], params["UploadId"])
        return {}

    @_translating
    def list_parts(self, ctx: RequestContext, params: Params) -> Output:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        upload = self.store.get_upload(bucket, key, upload_id)
        marker = params.get("PartNumberMarker") or 0
        limit = min(1000, params["MaxParts"]) if params.get("MaxParts") is not None else 1000
        parts = [p for p in self.store.list_parts(bucket, key, upload_id) if p.number > marker]
        page = parts[:limit]
        out: Output = {
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumberMarker": marker,
            "MaxParts": limit,
            "IsTruncated": len(parts) > limit,
            "Parts": [
                {
                    "PartNumber": p.number,
                    "LastModified": p.last_modified,
                    "ETag": p.etag,
                    "Size": p.size,
                    **{f"Checksum{alg}": v for alg, v in p.checksums.items()},
                }
                for p in page
            ],
            "Initiator": {"ID": _owner(ctx)["ID"], "DisplayName": "outcrop"},
            "Owner": _owner(ctx),
            "StorageClass": upload.attributes.headers.get("StorageClass", "STANDARD"),
        }
        if page:
            out["NextPartNumberMarker"] = page[-1].number
        if upload.attributes.checksum_algorithm:
            out["ChecksumAlgorithm"] = upload.attributes.checksum_algorithm
            out["ChecksumType"] = upload.attributes.checksum_type or "COMPOSITE"
        return out

    @_translating
    def list_multipart_uploads(self, ctx: RequestContext, params: Params) -> Output:
        limit = min(1000, params["MaxUploads"]) if params.get("MaxUploads") is not None else 1000
        listing = self.store.list_uploads(
            params["Bucket"],
            prefix=params.get("Prefix") or "",
            delimiter=params.get("Delimiter") or "",
            key_marker=params.get("KeyMarker") or "",
            upload_id_marker=params.get("UploadIdMarker") or "",
            max_uploads=limit,
        )
        encode = _encoder(params)
        out: Output = {
            "Bucket": params["Bucket"],
            "KeyMarker": encode(params.get("KeyMarker") or ""),
            "UploadIdMarker": params.get("UploadIdMarker") or "",
            "MaxUploads": limit,
            "IsTruncated": listing.truncated,
            "Uploads": [
                {
                    "UploadId": u.upload_id,
                    "Key": encode(u.key),
                    "Initiated": u.initiated,
                    "StorageClass": "STANDARD",
                    "Owner": _owner(ctx),
                    "Initiator": _owner(ctx),
                }
                for u in listing.uploads
            ],
        }
        for name in ("Prefix", "Delimiter", "EncodingType"):
            if params.get(name):
                out[name] = encode(params[name]) if name != "EncodingType" else params[name]
        if listing.common_prefixes:
            out["CommonPrefixes"] = [{"Prefix": encode(p)} for p in listing.common_prefixes]
        if listing.truncated and listing.uploads:
            out["NextKeyMarker"] = encode(listing.uploads[-1].key)
            out["NextUploadIdMarker"] = listing.uploads[-1].upload_id
        return out
