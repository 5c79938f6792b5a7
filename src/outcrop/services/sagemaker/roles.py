"""The credentials SageMaker's jobs and endpoint workers run with: an STS session of their role.

Under `auth = "iam"` a training or processing job's `RoleArn`, and an endpoint model's `ExecutionRoleArn`, are
assumed as SageMaker assumes them (session `SageMaker`, principal `sagemaker.amazonaws.com`), and the child
process gets the session's AWS_* variables, so its SDK calls back into Outcrop are authorized as that role.
In the other modes nothing is assumed and children keep the server's credentials.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from outcrop.services.sagemaker.hosting_outcomes import HostingError
from outcrop.services.sagemaker.serving.spec import VariantSpec

if TYPE_CHECKING:
    from outcrop.iam.execution import ExecutionRoles

ROLE_SESSION = "SageMaker"  # the session name SageMaker gives a job's or an endpoint's role
PRINCIPAL = "sagemaker.amazonaws.com"


def role_environment(roles: ExecutionRoles | None, role_arn: str) -> dict[str, str]:
    """The role session's AWS_* variables; none when roles are not enforced or no role is named.
    Raises `outcrop.iam.execution.RoleNotAssumable`."""
    if roles is None or not role_arn:
        return {}
    session = roles.assume(role_arn, ROLE_SESSION, PRINCIPAL)
    return session.environment() if session is not None else {}


def worker_spec(spec: VariantSpec, where: tuple[str, str], roles: ExecutionRoles | None) -> VariantSpec:
    """The spec an endpoint variant's workers run: their SDK calls go back to Outcrop in the endpoint's
    region, as its model's role. Only in memory: credentials are never saved with the deployment."""
    from outcrop.iam.execution import RoleNotAssumable

    try:
        credentials = role_environment(roles, spec.role_arn)
    except RoleNotAssumable as exc:
        raise HostingError(str(exc)) from exc
    calls = {"AWS_REGION": where[1], "AWS_DEFAULT_REGION": where[1]}
    if spec.endpoint_url:
        calls["AWS_ENDPOINT_URL"] = spec.endpoint_url
    return replace(spec, environment={**spec.environment, **calls, **credentials})
