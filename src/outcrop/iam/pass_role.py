"""iam:PassRole: handing a role to a service (a Lambda function's execution role, a SageMaker job's RoleArn, a
knowledge base's or agent's service role) needs permission to pass that role, as on AWS, where it is what
stops a user from running code with more rights than their own. The role is found in the request wherever
the service's input names a role ARN; `iam:PassedToService` is the service's principal."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from outcrop.protocol.router import service_model

_ROLE_MEMBER = re.compile(r"(?:role|rolearn)$", re.I)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/.+")
_NOT_PASSING = frozenset({"iam", "sts"})  # they name roles to manage or assume them, not to hand them over


def passed_roles(service: str, params: Mapping[str, Any]) -> list[str]:
    """The role ARNs a request hands to `service` (none for IAM and STS, which act on roles)."""
    if service in _NOT_PASSING:
        return []
    return sorted(set(_roles(params)))


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
