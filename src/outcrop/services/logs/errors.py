"""CloudWatch Logs' errors, shared by the provider and the Logs Insights operations."""

from __future__ import annotations

from outcrop.protocol.errors import ServiceError


class InvalidParameterException(ServiceError, service="logs"): ...


class ResourceNotFoundException(ServiceError, service="logs"): ...


class ResourceAlreadyExistsException(ServiceError, service="logs"): ...


class MalformedQueryException(ServiceError, service="logs"): ...


class LimitExceededException(ServiceError, service="logs"): ...


class AccessDeniedException(ServiceError, service="logs"): ...
