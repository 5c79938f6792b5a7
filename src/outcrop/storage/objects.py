"""The object store: buckets, objects and multipart uploads, as S3 defines them but without HTTP.

The S3 service translates wire requests into these calls; other services (knowledge-base ingestion,
SageMaker jobs, transcription) read and write objects through the same store in-process, so an object
written by boto3 and one written by a training job are the same thing. Errors are named as S3's error
codes so the service can pass them through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
MAX_KEY_BYTES = 1024
CHECKSUM_ALGORITHMS = (
    "CRC32",
    "CRC32C",
    "CRC64NVME",
    "SHA1",
    "SHA256",
    "SHA512",
    "MD5",
    "XXHASH64",
    "XXHASH3",
    "XXHASH128",
)


class StoreError(Exception):
    """A domain error; its class name is S3's error code."""

    def __init__(self, message: str, **details: str) -> None:
        super().__init__(message)
        self.message = message
        self.details = details  # extra fields S3 puts in its error body (BucketName, Key, UploadId...)

    @property
    def code(self) -> str:
        return type(self).__name__


class NoSuchBucket(StoreError):
    pass


class NoSuchKey(StoreError):
    pass


class NoSuchUpload(StoreError):
    pass


class BucketAlreadyOwnedByYou(StoreError):
    pass


class BucketNotEmpty(StoreError):
    pass


class InvalidBucketName(StoreError):
    pass


class KeyTooLongError(StoreError):
    pass


class InvalidPart(StoreError):
    pass


class InvalidPartOrder(StoreError):
    pass


class EntityTooSmall(StoreError):
    pass


class BadDigest(StoreError):
    pass


class InvalidArgument(StoreError):
    pass


class MalformedXML(StoreError):
    pass


class PreconditionFailed(StoreError):
    pass


class NotModified(StoreError):
    pass


class InvalidRange(StoreError):
    pass


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    created: datetime


@dataclass(frozen=True)
class ObjectAttributes:
    """What a writer says about an object besides its bytes: content headers, user metadata, checksums."""

    content_type: str = "binary/octet-stream"
    metadata: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # CacheControl, ContentDisposition, Expires...
    checksums: Mapping[str, str] = field(default_factory=dict)  # algorithm (CRC32, SHA256...) -> base64
    checksum_algorithm: str | None = None  # for multipart uploads: the algorithm each part carries
    checksum_type: str | None = None  # FULL_OBJECT or COMPOSITE
    tags: Mapping[str, str] = field(default_factory=dict)
    # Encryption at rest (S3's SSE). Asked for: ServerSideEncryption (AES256 or aws:kms), SSEKMSKeyId,
    # SSEKMSEncryptionContext, BucketKeyEnabled. Stored: also the KMS key's ARN and DataKey, the object's
    # data key sealed by KMS (base64); the clear data key is never stored.
    encryption: Mapping[str, str] = field(default_factory=dict)


class DataKeys(Protocol):
    """Envelope encryption's key service (KMS): a fresh data key per encrypted object, and the key back."""

    def new_data_key(
        self, encryption: Mapping[str, str], region: str, context: Mapping[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        """A data key in the clear, and the encryption fields that record it (its KMS key, it sealed)."""
        ...

    def open_data_key(self, encryption: Mapping[str, str], region: str, context: Mapping[str, str]) -> bytes:
        """The clear data key of a stored object; raises the key service's error (a disabled key...)."""
        ...


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str  # quoted, as S3 sends it
    last_modified: datetime
    attributes: ObjectAttributes
    parts_count: int | None = None


@dataclass(frozen=True)
class Listing:
    objects: list[ObjectInfo]
    common_prefixes: list[str]
    truncated: bool
    next_marker: str | None  # the last key or common prefix returned, where the next page starts after


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: datetime
    attributes: ObjectAttributes


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str
    last_modified: datetime
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UploadListing:
    uploads: list[Upload]
    common_prefixes: list[str]
    truncated: bool


class ObjectStore(Protocol):
    """Buckets of objects with S3's semantics: atomic whole-object writes, ordered listing, multipart."""

    def create_bucket(self, name: str, region: str) -> Bucket: ...

    def get_bucket(self, name: str) -> Bucket: ...

    def list_buckets(self) -> list[Bucket]: ...

    def delete_bucket(self, name: str) -> None: ...

    def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes | BinaryIO,
        attributes: ObjectAttributes | None = None,
        *,
        content_md5: str | None = None,
    ) -> ObjectInfo:
        """Write a whole object atomically; `content_md5` (base64) and `attributes.checksums` are verified."""
        ...

    def head_object(self, bucket: str, key: str) -> ObjectInfo: ...

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        """The object's description and an open binary file positioned at its start; the caller closes it."""
        ...

    def read_object(self, bucket: str, key: str) -> bytes: ...

    def delete_object(self, bucket: str, key: str) -> bool:
        """True when something was deleted; deleting a missing key is not an error, as in S3."""
        ...

    def copy_object(
        self,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        attributes: ObjectAttributes | None,
        *,
        encryption: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Copy bytes; `attributes` None keeps the source's (S3's COPY metadata directive). The copy is
        encrypted as `encryption` asks, else as the target bucket's default, never as its source was."""
        ...

    def put_bucket_encryption(self, bucket: str, configuration: Mapping[str, object] | None) -> None:
        """Set (None: remove) a bucket's default encryption: S3's ServerSideEncryptionConfiguration."""
        ...

    def get_bucket_encryption(self, bucket: str) -> Mapping[str, object] | None: ...

    def set_tags(self, bucket: str, key: str, tags: Mapping[str, str]) -> ObjectInfo: ...

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str = "",
        max_keys: int = 1000,
    ) -> Listing:
        """Keys after `after` (exclusive) in UTF-8 byte order; with a delimiter, keys sharing the part of
        the key up to the delimiter roll up into one common prefix (counted once against `max_keys`)."""
        ...

    def iter_objects(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def create_upload(self, bucket: str, key: str, attributes: ObjectAttributes | None = None) -> Upload: ...

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload: ...

    def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        data: bytes | BinaryIO,
        checksums: Mapping[str, str],
        *,
        content_md5: str | None = None,
    ) -> Part: ...

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[Part]: ...

    def complete_upload(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        """Join the named parts (number, etag) in order into the object; S3's part rules apply."""
        ...

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None: ...

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadListing: ...

    def close(self) -> None: ...


_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def check_bucket_name(name: str) -> None:
    """S3's general-purpose bucket naming rules."""
    bad = (
        not _BUCKET_NAME.match(name)
        or ".." in name
        or ".-" in name
        or "-." in name
        or _IP_ADDRESS.match(name) is not None
        or name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
    )
    if bad:
        raise InvalidBucketName("The specified bucket is not valid.", BucketName=name)


def check_key(key: str) -> None:
    if not key or len(key.encode()) > MAX_KEY_BYTES:
        raise KeyTooLongError("Your key is too long", Key=key[:64])


def after_prefix(prefix: str) -> str:
    """The smallest string greater than every string that starts with `prefix` (code-point order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
