"""KMS's errors as the service answers them: the keyring's domain errors carry KMS's codes already."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from outcrop.kms.keys import KmsError
from outcrop.protocol.errors import ServiceError
from outcrop.services.kms.options import dry_run

C = TypeVar("C", bound=type)


class InvalidMarkerException(ServiceError, service="kms"): ...


class NotFoundException(ServiceError, service="kms"): ...


class InvalidGrantTokenException(ServiceError, service="kms"): ...


class InvalidGrantIdException(ServiceError, service="kms"): ...


class InvalidAliasNameException(ServiceError, service="kms"): ...


class AlreadyExistsException(ServiceError, service="kms"): ...


class KmsValidationException(ServiceError):
    code, status, sender_fault = "ValidationException", 400, True


def as_service_error(error: KmsError) -> ServiceError:
    """The keyring's error as a KMS error response (the serializer takes the status from the model)."""
    return ServiceError(error.message, code=error.code, status=400, sender_fault=True)


def answering_kms_errors(cls: C) -> C:
    """Every operation method of `cls` answers the keyring's errors as KMS error responses, and a
    request with DryRun that got through answers DryRunOperationException in place of its result
    (operations that change state check DryRun themselves before they do)."""
    for name, method in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(method) or name == "close":
            continue
        setattr(cls, name, _translated(method))
    return cls


def _translated(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = method(*args, **kwargs)
        except KmsError as error:
            raise as_service_error(error) from error
        if len(args) > 2 and isinstance(args[2], dict):
            dry_run(args[2])
        return result

    return call
