"""iam:PassRole: handing a role to a service (a Lambda function's execution role, a SageMaker job's RoleArn, a
knowledge base's or agent's service role) needs permission to pass that role, as on AWS, where it is what
stops a user from running code with more rights than their own. The role is found in the request wherever
the service's input names a role ARN; `iam:PassedToService` is the service's principal."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from outcrop.protocol.router import service_model

_ROLE_MEMBER = re.compile(r"(?:role|rolearn)$", re.I)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/.+")
_NOT_PASSING = frozenset({"iam", "sts"})  # they name roles to manage or assume them, not to hand them over


def passed_roles(service: str, operation: str, params: Mapping[str, Any]) -> list[str]:
    """The role ARNs a request hands to `service` (none for IAM and STS, which act on roles)."""
    if service in _NOT_PASSING or not _takes_roles(service, operation):
        return []
    return sorted(set(_roles(params)))


@cache
def _takes_roles(service: str, operation: str) -> bool:
    """Whether the operation's input has a role member anywhere (most have none: no walk per request)."""
    try:
        shape = service_model(service).operation_model(operation).input_shape
    except Exception:  # an operation the model does not know: walk its parameters
        return True
    seen: set[str] = set()

    def named_role(current: Shape | None) -> bool:
        if current is None or current.name in seen:
            return False
        seen.add(current.name)
        if isinstance(current, StructureShape):
            return any(
                (_ROLE_MEMBER.search(n) and not getattr(m, "enum", None)) or named_role(m)  # enum: chat role
                for n, m in current.members.items()
            )
        if isinstance(current, ListShape):
            return named_role(current.member)
        if isinstance(current, MapShape):
            return named_role(current.value)
        return False

    return named_role(shape)


def _roles(value: Any, name: str = "") -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _roles(item, str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _roles(item, name)
    elif isinstance(value, str) and _ROLE_MEMBER.search(name) and _ROLE_ARN.fullmatch(value):
        yield value


def service_principal(service: str) -> str:
    """The principal a service acts as (bedrock-agent: bedrock.amazonaws.com), from its signing name."""
    metadata = service_model(service).metadata
    return f"{metadata.get('signingName') or metadata.get('endpointPrefix') or service}.amazonaws.com"
