"""Lambda's errors: each class's name is the code Lambda answers, and every body says whose fault it is."""

from __future__ import annotations

from outcrop.protocol.errors import ServiceError


class LambdaError(ServiceError):
    """Lambda's error bodies say whose fault an error is; every one Outcrop raises is the caller's."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extra={"Type": "User"})


class ResourceNotFoundException(LambdaError, service="lambda"): ...


class ResourceConflictException(LambdaError, service="lambda"): ...


class InvalidParameterValueException(LambdaError, service="lambda"): ...


class InvalidRequestContentException(LambdaError, service="lambda"): ...


class RequestTooLargeException(LambdaError, service="lambda"): ...


class PreconditionFailedException(LambdaError, service="lambda"): ...


class PolicyLengthExceededException(LambdaError, service="lambda"): ...
