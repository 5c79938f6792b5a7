"""IAM's errors, as its botocore model names them (codes and statuses from the model)."""

from __future__ import annotations

from outcrop.protocol.errors import ServiceError


class NoSuchEntity(ServiceError, service="iam"): ...


class EntityAlreadyExists(ServiceError, service="iam"): ...


class MalformedPolicyDocument(ServiceError, service="iam"): ...


class LimitExceeded(ServiceError, service="iam"): ...


class DeleteConflict(ServiceError, service="iam"): ...


class InvalidInput(ServiceError, service="iam"): ...


class UnmodifiableEntity(ServiceError, service="iam"): ...


class AccessDenied(ServiceError):
    """AWS's common error (not in the model): IAM answers it where saying "no such entity" would tell a
    caller whether another account's access key exists."""

    code, status, sender_fault = "AccessDenied", 403, True
