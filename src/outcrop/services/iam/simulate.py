"""IAM's read-everything and what-if operations: GetAccountAuthorizationDetails, SimulatePrincipalPolicy
and SimulateCustomPolicy, which run the same evaluation `auth = "iam"` runs on every request."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from outcrop.iam.errors import InvalidInput, MalformedPolicyDocument
from outcrop.iam.evaluate import Decision, Principal, evaluate
from outcrop.iam.policy import Policy, parse_policy
from outcrop.iam.store import IamStore
from outcrop.services.base import RequestContext
from outcrop.services.iam import profiles, shapes
from outcrop.services.unserved import as_written, refuse_unserved

Params = dict[str, Any]
Output = dict[str, Any]
_FILTERS = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")


class SimulateOperations:
    store: IamStore

    def get_account_authorization_details(self, ctx: RequestContext, params: Params) -> Output:
        wanted = set(params.get("Filter") or _FILTERS)
        out: Output = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
        if "User" in wanted:
            for user in self.store.entities("user"):
                detail = shapes.user(user, self.store.tags("user", user["name"]))
                detail["UserPolicyList"] = self._inline("user", user["name"])
                detail["GroupList"] = [g["name"] for g in self.store.groups_of(user["name"])]
                detail["AttachedManagedPolicies"] = self.store.attached("user", user["name"])
                out["UserDetailList"].append(detail)
        if "Group" in wanted:
            for group in self.store.entities("group"):
                detail = shapes.group(group)
                detail["GroupPolicyList"] = self._inline("group", group["name"])
                detail["AttachedManagedPolicies"] = self.store.attached("group", group["name"])
                out["GroupDetailList"].append(detail)
        if "Role" in wanted:
            for role in self.store.entities("role"):
                detail = shapes.role(role, self.store.tags("role", role["name"]))
                held = self.store.profiles(role=role["name"])
                detail["InstanceProfileList"] = [profiles.profile_shape(p) for p in held]
                detail["RolePolicyList"] = self._inline("role", role["name"])
                detail["AttachedManagedPolicies"] = self.store.attached("role", role["name"])
                out["RoleDetailList"].append(detail)
        scopes = [s for s, f in (("Local", "LocalManagedPolicy"), ("AWS", "AWSManagedPolicy")) if f in wanted]
        for scope in scopes:
            for policy in self.store.list_policies(scope, only_attached=scope == "AWS"):
                detail = shapes.policy(policy)
                detail["PolicyVersionList"] = [shapes.version(v) for v in self.store.versions(policy["arn"])]
                out["Policies"].append(detail)
        out["IsTruncated"] = False
        return out

    def _inline(self, kind: str, owner: str) -> list[dict[str, str]]:
        return [
            {"PolicyName": name, "PolicyDocument": shapes.document(text)}
            for name, text in self.store.inline_documents(kind, owner)
        ]

    def simulate_principal_policy(self, ctx: RequestContext, params: Params) -> Output:
        source = params["PolicySourceArn"]
        resource = source.split(":", 5)[-1]
        kind, name = resource.split("/", 1)[0], resource.rsplit("/", 1)[-1]
        extra = _input_policies(params.get("PolicyInputList"))
        if kind == "user":
            principal = self.store.user_principal(name)
        elif kind == "role":
            principal = self.store.role_principal(name, "simulation")
        elif kind == "group":
            with self.store.db.read() as tx:
                self.store._exists(tx, "group", name)
                policies = self.store.policies_of(tx, "group", name)
            principal = Principal("user", source, self.store.account_id, name, identity=tuple(policies))
        else:
            raise InvalidInput(f"Invalid ARN: {source} is not a user, group or role ARN.")
        principal = _with(principal, extra, params)
        return self._simulate(principal, params)

    def simulate_custom_policy(self, ctx: RequestContext, params: Params) -> Output:
        caller = params.get("CallerArn") or f"arn:aws:iam::{ctx.account_id}:user/simulated"
        principal = Principal(
            "user",
            caller,
            ctx.account_id,
            "AIDASIMULATED",
            caller.rsplit("/", 1)[-1],
            identity=tuple(_input_policies(params.get("PolicyInputList"))),
        )
        return self._simulate(_with(principal, [], params), params)

    def _simulate(self, principal: Principal, params: Params) -> Output:
        resource_policy = None
        if params.get("ResourcePolicy"):
            try:
                resource_policy = parse_policy(params["ResourcePolicy"], "resource")
            except MalformedPolicyDocument as exc:  # the Simulate operations model InvalidInput for it
                raise InvalidInput(exc.message) from exc
        _refuse_unserved(params)
        context = _context(params.get("ContextEntries") or [])
        owner = params.get("ResourceOwner") or principal.account
        levels = params.get("OrderedOrganizationPolicyInputList") or []
        scps = [_input_policies(level.get("ServiceControlPolicyInputList")) for level in levels]
        results = []
        for action in params["ActionNames"]:
            for resource in params.get("ResourceArns") or ["*"]:
                decision = evaluate(
                    principal,
                    action,
                    resource,
                    context,
                    resource_policy,
                    cross_account=owner != principal.account,
                )
                verdict = _verdict(decision)
                for level in scps:  # each level of the organization must allow; a deny anywhere wins
                    scp = _verdict(
                        evaluate(
                            replace(
                                principal, identity=tuple(level), boundary=None, session=None, _by_action={}
                            ),
                            action,
                            resource,
                            context,
                        )
                    )
                    if scp != "allowed" and verdict != "explicitDeny":
                        verdict = scp
                result: Output = {
                    "EvalActionName": action,
                    "EvalResourceName": resource,
                    "EvalDecision": verdict,
                    "MatchedStatements": [],
                    "MissingContextValues": [],
                }
                if principal.boundary is not None:
                    bounded = replace(
                        principal, identity=principal.boundary, boundary=None, session=None, _by_action={}
                    )
                    result["PermissionsBoundaryDecisionDetail"] = {
                        "AllowedByPermissionsBoundary": evaluate(bounded, action, resource, context).allowed
                    }
                results.append(result)
        return shapes.page(results, params, "EvaluationResults")


def _policies(texts: list[str] | None) -> list[Policy]:
    return [parse_policy(text, "identity") for text in texts or []]


def _input_policies(documents: Any) -> list[Policy]:
    """The simulation's own policies; a malformed one is InvalidInput, which the Simulate operations model."""
    try:
        return _policies(documents)
    except MalformedPolicyDocument as exc:
        raise InvalidInput(exc.message) from exc


def _verdict(decision: Decision) -> str:
    if decision.allowed:
        return "allowed"
    return "explicitDeny" if decision.reason.startswith("explicit deny") else "implicitDeny"


def _with(principal: Principal, extra: list[Policy], params: Params) -> Principal:
    """The principal with the simulation's added policies and, when given, its permissions boundary
    in place of the one the entity has."""
    boundary = _input_policies(params.get("PermissionsBoundaryPolicyInputList"))
    if len(boundary) > 1:
        raise InvalidInput("Only one permissions boundary policy can be simulated.")
    return replace(
        principal,
        identity=(*principal.identity, *extra),
        boundary=tuple(boundary) if boundary else principal.boundary,
        _by_action={},
    )


_UNSERVED = {
    "PolicyExclusionList": "Outcrop does not serve PolicyExclusionList: remove the policy from the entity, "
    "or simulate with SimulateCustomPolicy and the policies you want.",
    "ResourceHandlingOption": "Outcrop does not serve Amazon EC2, so ResourceHandlingOption scenarios are "
    "not supported.",
}


def _refuse_unserved(params: Params) -> None:
    """Options Outcrop cannot simulate faithfully are refused, never ignored."""
    refuse_unserved(params, _UNSERVED, InvalidInput, message=as_written)


def _context(entries: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {
        "aws:currenttime": [datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")],
    }
    for entry in entries:
        found[str(entry["ContextKeyName"]).lower()] = [str(v) for v in entry.get("ContextKeyValues") or []]
    return found
