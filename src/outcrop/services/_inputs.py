"""Inputs several services read the same way: an image or document given inline or as an S3 object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outcrop.protocol.errors import ServiceError
from outcrop.storage.objects import ObjectStore, StoreError


def client_error(code: str, message: str, status: int = 400) -> ServiceError:
    """A modelled error of the caller's making (sender fault below 500)."""
    return ServiceError(message, code=code, status=status, sender_fault=status < 500)


def bytes_or_s3_object(
    objects: ObjectStore, source: Mapping[str, Any], *, name: str, limit: int, too_large_code: str
) -> bytes:
    """The bytes of `source` (Rekognition's Image, Textract's Document): exactly one of `Bytes` and
    `S3Object` {Bucket, Name}. An S3 object over `limit` bytes is refused before it is read."""
    if ("Bytes" in source) == ("S3Object" in source):
        raise client_error(
            "InvalidParameterException", f"Provide exactly one of {name}.Bytes and {name}.S3Object."
        )
    if "Bytes" in source:
        return bytes(source["Bytes"])
    location = source["S3Object"]
    bucket, key = location.get("Bucket"), location.get("Name")
    if not bucket or not key:
        raise client_error("InvalidParameterException", "S3Object needs a Bucket and a Name.")
    try:
        info = objects.head_object(bucket, key)
        if info.size > limit:
            raise client_error(
                too_large_code, f"The S3 object is {info.size} bytes; the limit is {limit} bytes."
            )
        return objects.read_object(bucket, key)
    except StoreError as exc:
        raise client_error(
            "InvalidS3ObjectException",
            "Unable to get object metadata from S3. Check object key, region and/or access permissions. "
            f"({exc.code})",
        ) from exc
