"""Inputs several services read the same way: an image or document given inline or as an S3 object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from outcrop.protocol.errors import ServiceError
from outcrop.storage.objects import ObjectStore, StoreError


class InputErrors(NamedTuple):
    """The calling service's own errors for the three ways such an input goes wrong."""

    invalid: type[ServiceError]  # InvalidParameterException: neither or both of Bytes and S3Object
    too_large: type[ServiceError]  # ImageTooLargeException, DocumentTooLargeException
    unreadable: type[ServiceError]  # InvalidS3ObjectException: the object is not there


def bytes_or_s3_object(
    objects: ObjectStore,
    source: Mapping[str, Any],
    *,
    name: str,
    limit: int,
    errors: InputErrors,
    region: str | None = None,
) -> bytes:
    """The bytes of `source` (Rekognition's Image, Textract's Document): exactly one of `Bytes` and
    `S3Object` {Bucket, Name}. An S3 object over `limit` bytes is refused before it is read; with
    `region`, so is one whose bucket is in another region (those services read only their own region's)."""
    if ("Bytes" in source) == ("S3Object" in source):
        raise errors.invalid(f"Provide exactly one of {name}.Bytes and {name}.S3Object.")
    if "Bytes" in source:
        return bytes(source["Bytes"])
    location = source["S3Object"]
    bucket, key = location.get("Bucket"), location.get("Name")
    if not bucket or not key:
        raise errors.invalid("S3Object needs a Bucket and a Name.")
    try:
        info = objects.head_object(bucket, key)
        if region is not None and objects.get_bucket(bucket).region != region:
            raise errors.unreadable(
                "Unable to get object metadata from S3. Check object key, region and/or access permissions. "
                f"(the bucket {bucket} is not in {region})"
            )
        if info.size > limit:
            raise errors.too_large(f"The S3 object is {info.size} bytes; the limit is {limit} bytes.")
        return objects.read_object(bucket, key)
    except StoreError as exc:
        raise errors.unreadable(
            "Unable to get object metadata from S3. Check object key, region and/or access permissions. "
            f"({exc.code})"
        ) from exc
