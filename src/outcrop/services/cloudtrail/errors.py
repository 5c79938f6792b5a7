"""CloudTrail's errors, as its model names them."""

from __future__ import annotations

from outcrop.protocol.errors import ServiceError


class TrailNotFoundException(ServiceError, service="cloudtrail"): ...


class TrailAlreadyExistsException(ServiceError, service="cloudtrail"): ...


class InvalidTrailNameException(ServiceError, service="cloudtrail"): ...


class S3BucketDoesNotExistException(ServiceError, service="cloudtrail"): ...


class InvalidLookupAttributesException(ServiceError, service="cloudtrail"): ...


class InvalidTimeRangeException(ServiceError, service="cloudtrail"): ...


class InvalidNextTokenException(ServiceError, service="cloudtrail"): ...


class InvalidEventCategoryException(ServiceError, service="cloudtrail"): ...


class UnsupportedOperationException(ServiceError, service="cloudtrail"): ...


class KmsKeyNotFoundException(ServiceError, service="cloudtrail"): ...


class InvalidHomeRegionException(ServiceError, service="cloudtrail"): ...
