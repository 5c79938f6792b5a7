"""IAM's tags (users, roles, customer managed policies) and permissions boundaries (users, roles).

Tags are principal tags under `auth = "iam"` (`aws:PrincipalTag/...` in conditions); a boundary caps
what the user's or role's identity policies can allow, as AWS evaluates it.
"""

from __future__ import annotations

from typing import Any

from outcrop.iam.store import IamStore
from outcrop.iam.store_tags import check_tags
from outcrop.services.base import RequestContext
from outcrop.services.iam import shapes

Params = dict[str, Any]
Output = dict[str, Any]


def tag(store: IamStore, kind: str, owner: str, params: Params) -> Output:
    """Tag<Entity>: the same for every taggable kind (users, roles, policies, MFA devices, profiles)."""
    store.tag(kind, owner, params["Tags"])
    return {}


def untag(store: IamStore, kind: str, owner: str, params: Params) -> Output:
    store.untag(kind, owner, params["TagKeys"])
    return {}


def listed(store: IamStore, kind: str, owner: str, params: Params) -> Output:
    """List<Entity>Tags, paged as AWS pages it."""
    return shapes.page(shapes.tag_list(store.tags(kind, owner)), params, "Tags")


class TagOperations:
    store: IamStore

    def _check_new(self, params: Params) -> None:
        """Before CreateUser/CreateRole/CreatePolicy: its Tags and PermissionsBoundary are acceptable."""
        check_tags(params.get("Tags") or [])
        if params.get("PermissionsBoundary"):
            self.store.check_boundary(params["PermissionsBoundary"])

    def _made(self, kind: str, name: str, params: Params) -> dict[str, str]:
        """After CreateUser/CreateRole/CreatePolicy: the Tags and PermissionsBoundary it was given."""
        if params.get("Tags"):
            self.store.tag(kind, name, params["Tags"])
        if params.get("PermissionsBoundary"):
            self.store.set_boundary(kind, name, params["PermissionsBoundary"])
        return self.store.tags(kind, name)

    def tag_user(self, ctx: RequestContext, params: Params) -> Output:
        return tag(self.store, "user", params["UserName"], params)

    def untag_user(self, ctx: RequestContext, params: Params) -> Output:
        return untag(self.store, "user", params["UserName"], params)

    def list_user_tags(self, ctx: RequestContext, params: Params) -> Output:
        return listed(self.store, "user", params["UserName"], params)

    def tag_role(self, ctx: RequestContext, params: Params) -> Output:
        return tag(self.store, "role", params["RoleName"], params)

    def untag_role(self, ctx: RequestContext, params: Params) -> Output:
        return untag(self.store, "role", params["RoleName"], params)

    def list_role_tags(self, ctx: RequestContext, params: Params) -> Output:
        return listed(self.store, "role", params["RoleName"], params)

    def tag_policy(self, ctx: RequestContext, params: Params) -> Output:
        return tag(self.store, "policy", params["PolicyArn"], params)

    def untag_policy(self, ctx: RequestContext, params: Params) -> Output:
        return untag(self.store, "policy", params["PolicyArn"], params)

    def list_policy_tags(self, ctx: RequestContext, params: Params) -> Output:
        return listed(self.store, "policy", params["PolicyArn"], params)

    def put_user_permissions_boundary(self, ctx: RequestContext, params: Params) -> Output:
        self.store.set_boundary("user", params["UserName"], params["PermissionsBoundary"])
        return {}

    def delete_user_permissions_boundary(self, ctx: RequestContext, params: Params) -> Output:
        self.store.set_boundary("user", params["UserName"], None)
        return {}

    def put_role_permissions_boundary(self, ctx: RequestContext, params: Params) -> Output:
        self.store.protect(params["RoleName"])  # a service-linked role's permissions are its service's
        self.store.set_boundary("role", params["RoleName"], params["PermissionsBoundary"])
        return {}

    def delete_role_permissions_boundary(self, ctx: RequestContext, params: Params) -> Output:
        self.store.protect(params["RoleName"])
        self.store.set_boundary("role", params["RoleName"], None)
        return {}
