"""Transcribe's modelled errors."""

from __future__ import annotations

from outcrop.protocol.errors import ServiceError


class BadRequestException(ServiceError, service="transcribe"): ...


class NotFoundException(ServiceError, service="transcribe"): ...


class ConflictException(ServiceError, service="transcribe"): ...
