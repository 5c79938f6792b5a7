"""S3's multipart uploads: create, upload (and copy) parts, list, complete and abort."""

from __future__ import annotations

from typing import BinaryIO, cast
from urllib.parse import quote

from outcrop.services.base import RequestContext
from outcrop.services.s3.common import (
    Output,
    Params,
    _attributes,
    _check_preconditions,
    _check_write_conditions,
    _checksum_output,
    _checksums,
    _copy_source,
    _encoder,
    _encryption_output,
    _owner,
    _translating,
    _Window,
)
from outcrop.services.s3.errors import InvalidRequest
from outcrop.storage.objects import (
    ObjectStore,
)
from outcrop.storage.preconditions import byte_range


class MultipartUploads:
    """The multipart operations of the S3 service, which gives them its object store."""

    store: ObjectStore

    @_translating
    def create_multipart_upload(self, ctx: RequestContext, params: Params) -> Output:
        attributes = _attributes(params)
        if attributes.checksum_type and not attributes.checksum_algorithm:
            raise InvalidRequest(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
            )
        upload = self.store.create_upload(params["Bucket"], params["Key"], attributes)
        out: Output = {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.upload_id}
        if attributes.encryption.get("ServerSideEncryption"):
            out.update({k: v for k, v in attributes.encryption.items() if k != "SSEKMSEncryptionContext"})
            out.pop("BucketKeyEnabled", None)
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
        _check_write_conditions(self.store, params, bucket, key)
        info = self.store.complete_upload(
            bucket, key, params["UploadId"], [(p.get("PartNumber", 0), p.get("ETag", "")) for p in parts]
        )
        return {
            "Location": f"{ctx.base_url}/{bucket}/{quote(key)}",
            "Bucket": bucket,
            "Key": key,
            "ETag": info.etag,
            **_checksum_output(info),
            **_encryption_output(info),
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
