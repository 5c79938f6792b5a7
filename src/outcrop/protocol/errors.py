"""One error family for every service: raised by service code, rendered by the serializer."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An AWS error response: its code, HTTP status, who is at fault, and optional extra members."""

    code: str = "InternalServerException"
    status: int = 500
    sender_fault: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        sender_fault: bool | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if sender_fault is not None:
            self.sender_fault = sender_fault
        self.extra = extra or {}
        self.headers = headers or {}


class ValidationException(ServiceError):
    code, status, sender_fault = "ValidationException", 400, True


class ResourceNotFoundException(ServiceError):
    code, status, sender_fault = "ResourceNotFoundException", 404, True


class AccessDeniedException(ServiceError):
    code, status, sender_fault = "AccessDeniedException", 403, True


class ThrottlingException(ServiceError):
    code, status, sender_fault = "ThrottlingException", 429, True


class ConflictException(ServiceError):
    code, status, sender_fault = "ConflictException", 409, True


class ServiceQuotaExceededException(ServiceError):
    code, status, sender_fault = "ServiceQuotaExceededException", 400, True


class InternalServerException(ServiceError):
    code, status, sender_fault = "InternalServerException", 500, False


class ServiceUnavailableException(ServiceError):
    code, status, sender_fault = "ServiceUnavailableException", 503, False


class ModelErrorException(ServiceError):
    code, status, sender_fault = "ModelErrorException", 424, True


class ModelNotReadyException(ServiceError):
    code, status, sender_fault = "ModelNotReadyException", 429, True


class NotImplementedOperation(ServiceError):
    """An operation botocore models but Outcrop does not serve yet: said plainly, never a fake success."""

    code, status, sender_fault = "NotImplemented", 501, False

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(
            f"Outcrop does not implement {service} {operation} yet. "
            "See the README's 'Not done yet' list for what is served."
        )


class UnknownOperation(ServiceError):
    """The request matched no modelled operation of any served service."""

    code, status, sender_fault = "UnknownOperationException", 404, True


class SerializationException(ServiceError):
    """The request body could not be decoded (malformed JSON, XML or CBOR)."""

    code, status, sender_fault = "SerializationException", 400, True
