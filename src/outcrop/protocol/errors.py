"""One error family for every service: raised by service code, rendered by the serializer.

A service declares each error it raises once, as a subclass named as its code:

    class InvalidSsmlException(ServiceError, service="polly"): ...

Its HTTP status comes from botocore's error shape (`httpStatusCode`), so the class and the model cannot
disagree. Where the model gives none (most JSON services) the status is 400 unless the class body states
another, and a code the model does not name at all must state its status. The generic errors below,
shared by several services, state theirs.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from outcrop.protocol.router import service_model


class ServiceError(Exception):
    """An AWS error response: its code, HTTP status, who is at fault, and optional extra members.

    `code=`/`status=` at construction are for the protocol layer's own answers (signature, body size);
    services declare a subclass instead."""

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

    def __init_subclass__(cls, *, service: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if service is not None:
            _declare(cls, service)


@cache
def _shapes(service: str) -> dict[str, dict[str, Any]]:
    """The metadata of each error shape of `service`, by shape name and by wire code."""
    found: dict[str, dict[str, Any]] = {}
    for shape in service_model(service).error_shapes:
        found[shape.name] = found[shape.metadata.get("error", {}).get("code", shape.name)] = shape.metadata
    return found


def _declare(cls: type[ServiceError], service: str) -> None:
    """Fill a declared error's code, status and fault from `service`'s model (see the module docstring)."""
    cls.code = cls.__dict__.get("code", cls.__name__)
    metadata = _shapes(service).get(cls.code)
    stated: int | None = cls.__dict__.get("status")
    modelled: int | None = (metadata or {}).get("error", {}).get("httpStatusCode")
    if metadata is None and stated is None:
        raise TypeError(f"{service} models no error {cls.code}: state {cls.__name__}'s status")
    if modelled is not None and stated not in (None, modelled):
        raise TypeError(f"{cls.__name__} states status {stated}; {service}'s model says {modelled}")
    cls.status = modelled or stated or 400
    if "sender_fault" not in cls.__dict__:
        cls.sender_fault = cls.status < 500


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
