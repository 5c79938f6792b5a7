"""Amazon S3's errors, each declared once. botocore models only a few of S3's codes (NoSuchBucket, NoSuchKey,
InvalidRequest...); the rest state the status S3 documents. The members S3 adds to an error body (BucketName,
Key, ArgumentName...) travel in `extra`, which the XML serializer writes out."""

from __future__ import annotations

from outcrop.protocol.errors import ServiceError


class NoSuchBucket(ServiceError, service="s3"): ...


class NoSuchKey(ServiceError, service="s3"): ...


class NoSuchUpload(ServiceError, service="s3"): ...


class BucketAlreadyOwnedByYou(ServiceError, service="s3"): ...


class InvalidRequest(ServiceError, service="s3"): ...


class BucketNotEmpty(ServiceError, service="s3"):
    status = 409


class PreconditionFailed(ServiceError, service="s3"):
    status = 412


class NotModified(ServiceError, service="s3"):
    status = 304


class InvalidRange(ServiceError, service="s3"):
    status = 416


class InvalidBucketName(ServiceError, service="s3"):
    status = 400


class KeyTooLongError(ServiceError, service="s3"):
    status = 400


class InvalidPart(ServiceError, service="s3"):
    status = 400


class InvalidPartOrder(ServiceError, service="s3"):
    status = 400


class InvalidPartNumber(ServiceError, service="s3"):
    status = 400


class EntityTooSmall(ServiceError, service="s3"):
    status = 400


class BadDigest(ServiceError, service="s3"):
    status = 400


class InvalidArgument(ServiceError, service="s3"):
    status = 400


class MalformedXML(ServiceError, service="s3"):
    status = 400


class BadRequest(ServiceError, service="s3"):
    status = 400


class InvalidLocationConstraint(ServiceError, service="s3"):
    status = 400


class S3NotImplemented(ServiceError, service="s3"):
    code = "NotImplemented"
    status = 501


class ServerSideEncryptionConfigurationNotFoundError(ServiceError, service="s3"):
    status = 404


class IllegalLocationConstraintException(ServiceError, service="s3"):
    status = 400


class AuthorizationHeaderMalformed(ServiceError, service="s3"):
    """A request signed for a region other than its bucket's (the error names the right one)."""

    status = 400


# The object store's errors are named as S3's codes (outcrop.storage.objects.StoreError).
STORE_ERRORS: dict[str, type[ServiceError]] = {
    error.code: error
    for error in (
        NoSuchBucket,
        NoSuchKey,
        NoSuchUpload,
        BucketAlreadyOwnedByYou,
        BucketNotEmpty,
        InvalidBucketName,
        KeyTooLongError,
        InvalidPart,
        InvalidPartOrder,
        EntityTooSmall,
        BadDigest,
        InvalidArgument,
        MalformedXML,
        PreconditionFailed,
        NotModified,
        InvalidRange,
    )
}
