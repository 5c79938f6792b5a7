"""Amazon S3: buckets, objects and multipart uploads over the object store, with S3's HTTP semantics
(ranges, conditional requests, URL-encoded listings, the legacy us-east-1 quirks) kept here, out of the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from outcrop.protocol.serialize import StreamingBlob
from outcrop.services.base import RequestContext, Service
from outcrop.services.paging import Pager
from outcrop.services.s3.common import (
    _OVERRIDES,
    _SMALL,
    _US_EAST_1,
    Output,
    Params,
    _attributes,
    _check_preconditions,
    _check_write_conditions,
    _checksum_output,
    _copy_source,
    _encoder,
    _encryption,
    _encryption_output,
    _object_headers,
    _owner,
    _stream,
    _translating,
)
from outcrop.services.s3.errors import (
    BadRequest,
    IllegalLocationConstraintException,
    InvalidArgument,
    InvalidLocationConstraint,
    InvalidPartNumber,
    InvalidRequest,
    MalformedXML,
    ServerSideEncryptionConfigurationNotFoundError,
)
from outcrop.services.s3.multipart import MultipartUploads
from outcrop.services.s3.policy import BucketPolicies, BucketPolicyStore
from outcrop.storage.objects import (
    Bucket,
    ObjectAttributes,
    ObjectInfo,
    ObjectStore,
    StoreError,
)
from outcrop.storage.preconditions import byte_range

_BAD_TOKEN = "The continuation token provided is incorrect"
_BUCKET_PAGES = Pager(
    InvalidArgument, _BAD_TOKEN, default=10_000, token="ContinuationToken", size="MaxBuckets"
)
_OBJECT_PAGES = Pager(InvalidArgument, _BAD_TOKEN, default=1000, token="ContinuationToken", size=None)


class S3(MultipartUploads, BucketPolicies, Service):
    service_name = "s3"

    def __init__(self, *, objects: ObjectStore, bucket_policies: BucketPolicyStore) -> None:
        """The one object store of the server, which other services read and write in-process too, and the
        bucket policies the `auth = "iam"` authorizer reads."""
        self.store = objects
        self.policies = bucket_policies

    # -- buckets --------------------------------------------------------------------------------------------

    @_translating
    def create_bucket(self, ctx: RequestContext, params: Params) -> Output:
        name = params["Bucket"]
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        if constraint == _US_EAST_1:
            raise InvalidLocationConstraint(
                "The specified location-constraint is not valid", extra={"LocationConstraint": constraint}
            )
        if ctx.region != _US_EAST_1 and constraint != ctx.region:
            said = constraint or "unspecified"
            raise IllegalLocationConstraintException(
                f"The {said} location constraint is incompatible for the region specific endpoint "
                "this request was sent to.",
            )
        try:
            self.store.create_bucket(name, constraint or _US_EAST_1)
            self.policies.put(name, None)  # a new bucket never inherits a policy of one deleted in-process
        except StoreError as exc:
            # S3's legacy behaviour: re-creating your own us-east-1 bucket in us-east-1 succeeds
            if exc.code != "BucketAlreadyOwnedByYou" or ctx.region != _US_EAST_1:
                raise
            if self.store.get_bucket(name).region != (constraint or _US_EAST_1):
                raise
        return {"Location": f"/{name}"}

    @_translating
    def head_bucket(self, ctx: RequestContext, params: Params) -> Output:
        bucket = self.store.get_bucket(params["Bucket"])
        return {"BucketRegion": bucket.region, "AccessPointAlias": False}

    @_translating
    def delete_bucket(self, ctx: RequestContext, params: Params) -> Output:
        self.store.delete_bucket(params["Bucket"])
        self.policies.put(params["Bucket"], None)  # the policy goes with its bucket
        return {}

    @_translating
    def list_buckets(self, ctx: RequestContext, params: Params) -> Output:
        prefix = params.get("Prefix") or ""
        after = _BUCKET_PAGES.after(params) or ""
        buckets = [
            b
            for b in self.store.list_buckets()
            if b.name.startswith(prefix) and b.name > after and params.get("BucketRegion") in (None, b.region)
        ]
        page, token = _BUCKET_PAGES.keyed(buckets, params, lambda b: b.name)
        out: Output = {"Buckets": [self._bucket(b) for b in page], "Owner": _owner(ctx)}
        if prefix:
            out["Prefix"] = prefix
        if token:
            out["ContinuationToken"] = token
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

    # -- default encryption -----------------------------------------------------------------------------

    @_translating
    def put_bucket_encryption(self, ctx: RequestContext, params: Params) -> Output:
        configuration = params["ServerSideEncryptionConfiguration"]
        rules = configuration.get("Rules") or []
        if len(rules) != 1:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
            )
        default = rules[0].get("ApplyServerSideEncryptionByDefault") or {}
        _encryption(  # the same checks as a write's headers
            {
                "ServerSideEncryption": default.get("SSEAlgorithm"),
                "SSEKMSKeyId": default.get("KMSMasterKeyID"),
            }
        )
        if not default.get("SSEAlgorithm"):
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
            )
        self.store.put_bucket_encryption(params["Bucket"], {"Rules": rules})
        return {}

    @_translating
    def get_bucket_encryption(self, ctx: RequestContext, params: Params) -> Output:
        found = self.store.get_bucket_encryption(params["Bucket"])
        if found is None:
            raise ServerSideEncryptionConfigurationNotFoundError(
                "The server side encryption configuration was not found",
                extra={"BucketName": params["Bucket"]},
            )
        return {"ServerSideEncryptionConfiguration": dict(found)}

    @_translating
    def delete_bucket_encryption(self, ctx: RequestContext, params: Params) -> Output:
        self.store.put_bucket_encryption(params["Bucket"], None)
        return {}

    # -- objects --------------------------------------------------------------------------------------------

    @_translating
    def put_object(self, ctx: RequestContext, params: Params) -> Output:
        bucket, key = params["Bucket"], params["Key"]
        _check_write_conditions(self.store, params, bucket, key)
        info = self.store.put_object(
            bucket, key, params.get("Body") or b"", _attributes(params), content_md5=params.get("ContentMD5")
        )
        return {"ETag": info.etag, **_checksum_output(info), **_encryption_output(info)}

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
            raise InvalidPartNumber(
                "The requested partnumber is not satisfiable", extra={"PartNumberRequested": part}
            )
        out = _object_headers(info)
        window = byte_range(params.get("Range"), info.size)
        if window is None:
            first, length = 0, info.size
            if params.get("ChecksumMode") == "ENABLED":
                out.update(_checksum_output(info))
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
            raise MalformedXML(
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
            and not params.get("ServerSideEncryption")
        ):
            raise InvalidRequest(
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
        info = self.store.copy_object(
            source_bucket, source_key, bucket, key, attributes, encryption=_encryption(params)
        )
        result = {"ETag": info.etag, "LastModified": info.last_modified, **_checksum_output(info)}
        return {"CopyObjectResult": result, **_encryption_output(info)}

    @_translating
    def list_objects_v2(self, ctx: RequestContext, params: Params) -> Output:
        token = params.get("ContinuationToken")
        after = _OBJECT_PAGES.after(params)
        if after is None:
            after = params.get("StartAfter") or ""
        out, listing = self._list(ctx, params, after, owner=bool(params.get("FetchOwner")))
        out["KeyCount"] = len(out.get("Contents", [])) + len(out.get("CommonPrefixes", []))
        encode = _encoder(params)
        if token:
            out["ContinuationToken"] = token
        if params.get("StartAfter"):
            out["StartAfter"] = encode(params["StartAfter"])
        if listing.truncated and listing.next_marker is not None:
            out["NextContinuationToken"] = _OBJECT_PAGES.key_token(listing.next_marker)
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
            raise InvalidArgument(
                "Argument maxKeys must be an integer between 0 and 2147483647",
                extra={"ArgumentName": "maxKeys", "ArgumentValue": str(max_keys)},
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
            raise BadRequest("Object tags cannot be greater than 10")
        self.store.set_tags(params["Bucket"], params["Key"], tags)
        return {}

    @_translating
    def delete_object_tagging(self, ctx: RequestContext, params: Params) -> Output:
        self.store.set_tags(params["Bucket"], params["Key"], {})
        return {}
