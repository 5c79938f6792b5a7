"""Lambda's resource-based policy operations: AddPermission, RemovePermission and GetPolicy.

A permission becomes one statement laid out as Lambda lays it out (Sid, Effect, Principal, Action,
Resource, Condition); the policy is kept with the function (`outcrop.lambdas.policies`) and, under
`auth = "iam"`, joins the evaluation of requests on the function as AWS's policy logic says.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from outcrop.iam.errors import MalformedPolicyDocument
from outcrop.iam.policy import parse_policy
from outcrop.lambdas.policies import PolicyError
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.lambda_functions.errors import (
    InvalidParameterValueException,
    PolicyLengthExceededException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)

if TYPE_CHECKING:
    from outcrop.lambdas.registry import FunctionRegistry
    from outcrop.lambdas.spec import FunctionSpec

Params = dict[str, Any]
Output = dict[str, Any]

_ACCOUNT = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+")
_SERVICE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?")
_ERRORS: dict[str, type[ServiceError]] = {
    "ResourceConflictException": ResourceConflictException,
    "ResourceNotFoundException": ResourceNotFoundException,
    "PreconditionFailedException": PreconditionFailedException,
    "PolicyLengthExceededException": PolicyLengthExceededException,
}


def _principal(value: str) -> str | dict[str, str]:
    """The Principal element Lambda writes for AddPermission's Principal: an account, an IAM ARN, a
    service principal, or everyone."""
    if value == "*":
        return "*"
    if _ACCOUNT.fullmatch(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if _IAM_ARN.fullmatch(value):
        return {"AWS": value}
    if _SERVICE.fullmatch(value):
        return {"Service": value}
    raise InvalidParameterValueException(
        "The provided principal was invalid. Please check the principal and try again."
    )


def statement(params: Params, function_arn: str) -> dict[str, Any]:
    """One policy statement for an AddPermission request, with its conditions as Lambda names them."""
    conditions: dict[str, dict[str, str]] = {}
    string_equals = {
        "AWS:SourceAccount": params.get("SourceAccount"),
        "aws:PrincipalOrgID": params.get("PrincipalOrgID"),
        "lambda:EventSourceToken": params.get("EventSourceToken"),
        "lambda:FunctionUrlAuthType": params.get("FunctionUrlAuthType"),
    }
    if any(string_equals.values()):
        conditions["StringEquals"] = {k: str(v) for k, v in string_equals.items() if v}
    if params.get("SourceArn"):
        conditions["ArnLike"] = {"AWS:SourceArn": str(params["SourceArn"])}
    if params.get("InvokedViaFunctionUrl"):
        conditions["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
    found: dict[str, Any] = {
        "Sid": str(params["StatementId"]),
        "Effect": "Allow",
        "Principal": _principal(str(params["Principal"])),
        "Action": str(params["Action"]),
        "Resource": function_arn,
    }
    if conditions:
        found["Condition"] = conditions
    return found


class PermissionOperations:
    """Mixed into the Lambda service, which gives the registry and its function lookup."""

    functions: FunctionRegistry

    def _function(self, ctx: RequestContext, params: Params) -> FunctionSpec:
        raise NotImplementedError

    def _policy_target(self, ctx: RequestContext, params: Params) -> FunctionSpec:
        """The function whose policy changes ($LATEST has none of its own, as on AWS); Outcrop keeps one
        policy per function, so a published version's own policy is refused, not merged into it."""
        if params.get("Qualifier") == "$LATEST":
            raise InvalidParameterValueException("We currently do not support adding policies for $LATEST.")
        spec = self._function(ctx, params)
        if spec.version != "$LATEST":
            raise InvalidParameterValueException(
                "Outcrop keeps one policy per function: a published version's own policy is not served."
            )
        return spec

    def add_permission(self, ctx: RequestContext, params: Params) -> Output:
        spec = self._policy_target(ctx, params)
        added = statement(params, self.functions.arn(spec))
        try:
            parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [added]}), "resource")
        except MalformedPolicyDocument as exc:
            raise InvalidParameterValueException(str(exc)) from exc
        try:
            self.functions.policies.add(spec.key, added, params.get("RevisionId"))
        except PolicyError as exc:
            raise _ERRORS[exc.code](str(exc)) from exc
        return {"Statement": json.dumps(added, separators=(",", ":"))}

    def remove_permission(self, ctx: RequestContext, params: Params) -> Output:
        spec = self._policy_target(ctx, params)
        try:
            self.functions.policies.remove(spec.key, str(params["StatementId"]), params.get("RevisionId"))
        except PolicyError as exc:
            raise _ERRORS[exc.code](str(exc)) from exc
        return {}

    def get_policy(self, ctx: RequestContext, params: Params) -> Output:
        spec = self._function(ctx, params)
        found = self.functions.policies.get(spec.key)
        if found is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return {"Policy": found[0], "RevisionId": found[1]}
