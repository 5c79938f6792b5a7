"""AWS IAM: users, groups, roles and access keys here; policies in `policies`, simulation in `simulate`.

Every write goes to the principal store, which `auth = "iam"` reads to authorize each request.
"""

from __future__ import annotations

from typing import Any

from outcrop.audit.trail import AuditTrail
from outcrop.iam.errors import AccessDenied, InvalidInput, NoSuchEntity
from outcrop.iam.policy import parse_policy
from outcrop.iam.store import IamStore
from outcrop.services.base import RequestContext, Service
from outcrop.services.iam import shapes
from outcrop.services.iam.account import AccountOperations
from outcrop.services.iam.mfa import MfaOperations
from outcrop.services.iam.policies import PolicyOperations
from outcrop.services.iam.profiles import ProfileOperations
from outcrop.services.iam.roles_more import RoleMoreOperations
from outcrop.services.iam.simulate import SimulateOperations
from outcrop.services.iam.tagging import TagOperations

Params = dict[str, Any]
Output = dict[str, Any]
MAX_SESSION_RANGE = (3600, 43200)


class Iam(
    AccountOperations,
    MfaOperations,
    RoleMoreOperations,
    ProfileOperations,
    TagOperations,
    PolicyOperations,
    SimulateOperations,
    Service,
):
    service_name = "iam"

    def __init__(self, *, iam: IamStore, audit: AuditTrail) -> None:
        self.store = iam
        self.audit = audit

    # -- users ---------------------------------------------------------------------------------------------

    def create_user(self, ctx: RequestContext, params: Params) -> Output:
        self._check_new(params)
        record = self.store.create("user", params["UserName"], params.get("Path") or "/")
        tags = self._made("user", record["name"], params)
        return {"User": shapes.user(self.store.get("user", record["name"]), tags)}

    def get_user(self, ctx: RequestContext, params: Params) -> Output:
        name = params.get("UserName")
        if not name:  # the caller itself
            record = self.store.resolve(ctx.access_key)
            if record is None:  # the server's own credentials: the account's root user, as IAM answers it
                root = self.store.root_principal()
                return {"User": {"UserId": root.account, "Arn": root.arn, "CreateDate": self._created()}}
            if record.principal.kind != "user":
                raise NoSuchEntity("The user with name (the caller) cannot be found.")
            name = record.principal.name
        return {"User": shapes.user(self.store.get("user", name), self.store.tags("user", name))}

    def _created(self) -> Any:
        """When this server's account came to be: its IAM database's creation."""
        try:
            return shapes.when(self.store.db.path.stat().st_ctime)
        except OSError:
            return shapes.when(0)

    def list_users(self, ctx: RequestContext, params: Params) -> Output:
        users = self.store.entities("user", params.get("PathPrefix") or "/")
        return shapes.page([shapes.user(u) for u in users], params, "Users")

    def delete_user(self, ctx: RequestContext, params: Params) -> Output:
        self.store.delete("user", params["UserName"])
        return {}

    # -- groups --------------------------------------------------------------------------------------------

    def create_group(self, ctx: RequestContext, params: Params) -> Output:
        record = self.store.create("group", params["GroupName"], params.get("Path") or "/")
        return {"Group": shapes.group(record)}

    def get_group(self, ctx: RequestContext, params: Params) -> Output:
        record = self.store.get("group", params["GroupName"])
        users = [shapes.user(u) for u in self.store.members_of(params["GroupName"])]
        return {"Group": shapes.group(record), **shapes.page(users, params, "Users")}

    def list_groups(self, ctx: RequestContext, params: Params) -> Output:
        groups = self.store.entities("group", params.get("PathPrefix") or "/")
        return shapes.page([shapes.group(g) for g in groups], params, "Groups")

    def delete_group(self, ctx: RequestContext, params: Params) -> Output:
        self.store.delete("group", params["GroupName"])
        return {}

    def add_user_to_group(self, ctx: RequestContext, params: Params) -> Output:
        self.store.add_member(params["GroupName"], params["UserName"])
        return {}

    def remove_user_from_group(self, ctx: RequestContext, params: Params) -> Output:
        self.store.add_member(params["GroupName"], params["UserName"], remove=True)
        return {}

    def list_groups_for_user(self, ctx: RequestContext, params: Params) -> Output:
        groups = [shapes.group(g) for g in self.store.groups_of(params["UserName"])]
        return shapes.page(groups, params, "Groups")

    # -- roles ---------------------------------------------------------------------------------------------

    def create_role(self, ctx: RequestContext, params: Params) -> Output:
        trust = params["AssumeRolePolicyDocument"]
        parse_policy(trust, "trust")
        _no_signin(params)
        self._check_new(params)
        record = self.store.create(
            "role",
            params["RoleName"],
            params.get("Path") or "/",
            trust=trust,
            description=params.get("Description") or "",
            max_session=_max_session(params.get("MaxSessionDuration")),
        )
        tags = self._made("role", record["name"], params)
        return {"Role": shapes.role(self.store.get("role", record["name"]), tags)}

    def get_role(self, ctx: RequestContext, params: Params) -> Output:
        name = params["RoleName"]
        return {"Role": shapes.role(self.store.get("role", name), self.store.tags("role", name))}

    def list_roles(self, ctx: RequestContext, params: Params) -> Output:
        roles = self.store.entities("role", params.get("PathPrefix") or "/")
        return shapes.page([shapes.role(r) for r in roles], params, "Roles")

    def update_role(self, ctx: RequestContext, params: Params) -> Output:
        _no_signin(params)
        if params.get("MaxSessionDuration") is not None:
            self.store.protect(params["RoleName"])
        changes: dict[str, Any] = {}
        if params.get("MaxSessionDuration") is not None:
            changes["max_session"] = _max_session(params["MaxSessionDuration"])
        if params.get("Description") is not None:
            changes["description"] = params["Description"]
        self.store.update_role(params["RoleName"], **changes)
        return {}

    def update_assume_role_policy(self, ctx: RequestContext, params: Params) -> Output:
        parse_policy(params["PolicyDocument"], "trust")
        self.store.protect(params["RoleName"])
        self.store.update_role(params["RoleName"], trust=params["PolicyDocument"])
        return {}

    def delete_role(self, ctx: RequestContext, params: Params) -> Output:
        self.store.protect(params["RoleName"])
        self.store.delete("role", params["RoleName"])
        return {}

    # -- access keys ---------------------------------------------------------------------------------------

    def _key_user(self, ctx: RequestContext, params: Params) -> str:
        """A key operation without UserName acts on the calling user's own keys."""
        if params.get("UserName"):
            return str(params["UserName"])
        record = self.store.resolve(ctx.access_key)
        if record is None or record.principal.kind != "user":
            raise InvalidInput("Must specify a userName when calling with non-User credentials")
        return record.principal.name

    def create_access_key(self, ctx: RequestContext, params: Params) -> Output:
        key = self.store.create_access_key(self._key_user(ctx, params))
        return {"AccessKey": shapes.access_key(key, secret=True)}

    def list_access_keys(self, ctx: RequestContext, params: Params) -> Output:
        user = self._key_user(ctx, params)
        keys = [shapes.access_key(k) for k in self.store.access_keys(user)]
        return shapes.page(keys, params, "AccessKeyMetadata")

    def update_access_key(self, ctx: RequestContext, params: Params) -> Output:
        self.store.change_access_key(self._key_user(ctx, params), params["AccessKeyId"], params["Status"])
        return {}

    def delete_access_key(self, ctx: RequestContext, params: Params) -> Output:
        self.store.change_access_key(self._key_user(ctx, params), params["AccessKeyId"], None)
        return {}

    def get_access_key_last_used(self, ctx: RequestContext, params: Params) -> Output:
        """An unknown key is AccessDenied, as on AWS (the model lists no NoSuchEntity here): any key id
        may be asked about, and the answer must not tell whether it exists in some other account."""
        user = self.store.user_of_key(params["AccessKeyId"])
        if user is None:
            record = self.store.resolve(ctx.access_key)
            caller = record.principal if record is not None else self.store.root_principal(ctx.access_key)
            raise AccessDenied(
                f"User: {caller.arn} is not authorized to perform: iam:GetAccessKeyLastUsed on resource: "
                f"access key {params['AccessKeyId']}"
            )
        # Read from the audit log, which records every answered call (a little after it, as AWS's own
        # record of use lags the call).
        used = self.audit.events.last_use(params["AccessKeyId"])
        if used is None:
            return {"UserName": user, "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}
        at, source, region = used
        return {
            "UserName": user,
            "AccessKeyLastUsed": {
                "LastUsedDate": shapes.when(at),
                "ServiceName": source.removesuffix(".amazonaws.com"),
                "Region": region,
            },
        }


def _no_signin(params: Params) -> None:
    """Outcrop has no AWS Sign-In sessions for roles (its console signs in with access keys), so a
    sign-in session limit would constrain nothing: refused rather than stored and ignored. Resetting
    it (ResetMaxSigninSessionDuration) is accepted: it is never set."""
    if params.get("MaxSigninSessionDuration") is not None:
        raise InvalidInput(
            "Outcrop does not serve AWS Sign-In sessions for roles (its console signs in with access "
            "keys), so MaxSigninSessionDuration is not supported."
        )


def _max_session(value: Any) -> int:
    if value is None:
        return MAX_SESSION_RANGE[0]
    low, high = MAX_SESSION_RANGE
    if not low <= int(value) <= high:
        raise InvalidInput(
            f"The requested MaxSessionDuration {value} is not in the range of {low} to {high} seconds."
        )
    return int(value)
