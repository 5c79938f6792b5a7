"""Amazon Rekognition's errors, as its botocore model names them (statuses from the model)."""

from __future__ import annotations

from outcrop.protocol.errors import ServiceError


class AccessDeniedException(ServiceError, service="rekognition"):
    """The celebrity operations and DetectLabels model it; Outcrop answers it where no local model can
    answer honestly (no celebrity index, no object-detection weights)."""


class ImageTooLargeException(ServiceError, service="rekognition"): ...


class InternalServerError(ServiceError, service="rekognition"):
    status = 500


class InvalidImageFormatException(ServiceError, service="rekognition"): ...


class InvalidPaginationTokenException(ServiceError, service="rekognition"): ...


class InvalidParameterException(ServiceError, service="rekognition"): ...


class InvalidS3ObjectException(ServiceError, service="rekognition"): ...


class ResourceAlreadyExistsException(ServiceError, service="rekognition"): ...


class ResourceNotFoundException(ServiceError, service="rekognition"): ...
