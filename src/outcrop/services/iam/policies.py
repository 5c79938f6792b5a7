"""IAM's policy operations: inline policies of users, groups and roles; customer managed policies with
versions; attaching managed policies (customer or AWS managed) by ARN."""

from __future__ import annotations

from typing import Any

from outcrop.iam.store import IamStore
from outcrop.iam.store_tags import check_tags
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.iam import shapes

Params = dict[str, Any]
Output = dict[str, Any]
_OWNER = {"user": "UserName", "group": "GroupName", "role": "RoleName"}
SERVICE_ROLE_POLICY_ARN = "arn:aws:iam::aws:policy/aws-service-role/"


class PolicyNotAttachable(ServiceError, service="iam"):
    """A service-linked role's policy: only CreateServiceLinkedRole attaches it, to its service's role."""


class PolicyOperations:
    store: IamStore

    # -- inline --------------------------------------------------------------------------------------------

    def _put(self, kind: str, params: Params) -> Output:
        self.store.put_inline(kind, params[_OWNER[kind]], params["PolicyName"], params["PolicyDocument"])
        return {}

    def _get(self, kind: str, params: Params) -> Output:
        owner, name = params[_OWNER[kind]], params["PolicyName"]
        text = self.store.get_inline(kind, owner, name)
        return {_OWNER[kind]: owner, "PolicyName": name, "PolicyDocument": shapes.document(text)}

    def _delete(self, kind: str, params: Params) -> Output:
        self.store.delete_inline(kind, params[_OWNER[kind]], params["PolicyName"])
        return {}

    def _list(self, kind: str, params: Params) -> Output:
        return shapes.page(self.store.inline_names(kind, params[_OWNER[kind]]), params, "PolicyNames")

    def put_user_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._put("user", params)

    def get_user_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._get("user", params)

    def delete_user_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._delete("user", params)

    def list_user_policies(self, ctx: RequestContext, params: Params) -> Output:
        return self._list("user", params)

    def put_group_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._put("group", params)

    def get_group_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._get("group", params)

    def delete_group_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._delete("group", params)

    def list_group_policies(self, ctx: RequestContext, params: Params) -> Output:
        return self._list("group", params)

    def put_role_policy(self, ctx: RequestContext, params: Params) -> Output:
        self.store.protect(params["RoleName"])
        return self._put("role", params)

    def get_role_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._get("role", params)

    def delete_role_policy(self, ctx: RequestContext, params: Params) -> Output:
        self.store.protect(params["RoleName"])
        return self._delete("role", params)

    def list_role_policies(self, ctx: RequestContext, params: Params) -> Output:
        return self._list("role", params)

    # -- managed -------------------------------------------------------------------------------------------

    def create_policy(self, ctx: RequestContext, params: Params) -> Output:
        check_tags(params.get("Tags") or [])
        record = self.store.create_policy(
            params["PolicyName"],
            params.get("Path") or "/",
            params["PolicyDocument"],
            params.get("Description") or "",
        )
        if params.get("Tags"):
            self.store.tag("policy", record["arn"], params["Tags"])
        return {"Policy": shapes.policy(record, self.store.tags("policy", record["arn"]))}

    def get_policy(self, ctx: RequestContext, params: Params) -> Output:
        record = self.store.policy(params["PolicyArn"])
        local = not record["arn"].startswith("arn:aws:iam::aws:")
        return {"Policy": shapes.policy(record, self.store.tags("policy", record["arn"]) if local else None)}

    def list_policies(self, ctx: RequestContext, params: Params) -> Output:
        """OnlyAttached with PolicyUsageFilter keeps the policies in that use (permissions policy or
        permissions boundary); without OnlyAttached every policy may serve either, so all are listed."""
        only = bool(params.get("OnlyAttached"))
        found = self.store.list_policies(params.get("Scope") or "All", False, params.get("PathPrefix") or "/")
        if only:
            usage = params.get("PolicyUsageFilter")
            found = [
                p
                for p in found
                if (usage != "PermissionsBoundary" and p["attachments"])
                or (usage != "PermissionsPolicy" and p["boundary_uses"])
            ]
        return shapes.page([shapes.policy(p) for p in found], params, "Policies")

    def delete_policy(self, ctx: RequestContext, params: Params) -> Output:
        self.store.delete_policy(params["PolicyArn"])
        return {}

    def create_policy_version(self, ctx: RequestContext, params: Params) -> Output:
        record = self.store.create_version(
            params["PolicyArn"], params["PolicyDocument"], bool(params.get("SetAsDefault"))
        )
        return {"PolicyVersion": shapes.version(record)}

    def get_policy_version(self, ctx: RequestContext, params: Params) -> Output:
        return {"PolicyVersion": shapes.version(self.store.version(params["PolicyArn"], params["VersionId"]))}

    def list_policy_versions(self, ctx: RequestContext, params: Params) -> Output:
        versions = [shapes.version(v) for v in self.store.versions(params["PolicyArn"])]
        for version in versions:
            del version["Document"]  # ListPolicyVersions answers no documents
        return shapes.page(versions, params, "Versions")

    def delete_policy_version(self, ctx: RequestContext, params: Params) -> Output:
        self.store.delete_version(params["PolicyArn"], params["VersionId"])
        return {}

    def set_default_policy_version(self, ctx: RequestContext, params: Params) -> Output:
        self.store.set_default(params["PolicyArn"], params["VersionId"])
        return {}

    def list_entities_for_policy(self, ctx: RequestContext, params: Params) -> Output:
        arn, usage = params["PolicyArn"], params.get("PolicyUsageFilter")
        self.store.policy(arn)  # NoSuchEntity first
        wanted = params.get("EntityFilter")
        kinds = {"User": ["user"], "Role": ["role"], "Group": ["group"]}.get(wanted or "", [])
        if not wanted:
            kinds = ["user", "group", "role"]
        entities = [] if usage == "PermissionsBoundary" else self.store.entities_for(arn)
        if usage != "PermissionsPolicy":
            entities = sorted({*entities, *self.store.boundary_holders(arn)}, key=lambda e: e[1])
        found: dict[str, list[dict[str, str]]] = {"user": [], "group": [], "role": []}
        for kind, owner in entities:
            if kind not in kinds:
                continue
            record = self.store.get(kind, owner)
            found[kind].append({f"{kind.capitalize()}Name": owner, f"{kind.capitalize()}Id": record["id"]})
        return {
            "PolicyUsers": found["user"],
            "PolicyGroups": found["group"],
            "PolicyRoles": found["role"],
            "IsTruncated": False,
        }

    # -- attachments ---------------------------------------------------------------------------------------

    def _attach(self, kind: str, params: Params, *, detach: bool = False) -> Output:
        if not detach and params["PolicyArn"].startswith(SERVICE_ROLE_POLICY_ARN):
            raise PolicyNotAttachable("Cannot attach a Service Role Policy to a Customer Role.")
        self.store.attach(kind, params[_OWNER[kind]], params["PolicyArn"], detach=detach)
        return {}

    def _attached(self, kind: str, params: Params) -> Output:
        found = self.store.attached(kind, params[_OWNER[kind]])
        prefix = params.get("PathPrefix") or "/"
        found = [p for p in found if self.store.policy(p["PolicyArn"])["path"].startswith(prefix)]
        return shapes.page(found, params, "AttachedPolicies")

    def attach_user_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._attach("user", params)

    def detach_user_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._attach("user", params, detach=True)

    def list_attached_user_policies(self, ctx: RequestContext, params: Params) -> Output:
        return self._attached("user", params)

    def attach_group_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._attach("group", params)

    def detach_group_policy(self, ctx: RequestContext, params: Params) -> Output:
        return self._attach("group", params, detach=True)

    def list_attached_group_policies(self, ctx: RequestContext, params: Params) -> Output:
        return self._attached("group", params)

    def attach_role_policy(self, ctx: RequestContext, params: Params) -> Output:
        self.store.protect(params["RoleName"])
        return self._attach("role", params)

    def detach_role_policy(self, ctx: RequestContext, params: Params) -> Output:
        self.store.protect(params["RoleName"])
        return self._attach("role", params, detach=True)

    def list_attached_role_policies(self, ctx: RequestContext, params: Params) -> Output:
        return self._attached("role", params)
