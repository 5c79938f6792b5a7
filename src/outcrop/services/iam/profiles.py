"""Instance profiles (the container EC2 passes a role through) and login profiles (users' console
passwords, held to the account's password policy). Mixed into `Iam`.

Outcrop's console signs in with access keys, so a password is stored (as a scrypt hash) and checked by
ChangePassword, but never signs anyone in.
"""

from __future__ import annotations

import string
from typing import Any

from outcrop.iam.errors import InvalidInput
from outcrop.iam.store import IamStore
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.iam import shapes, tagging

Params = dict[str, Any]
Output = dict[str, Any]
_SIGNIN = (
    "Outcrop does not serve AWS Sign-In sessions (its console signs in with access keys), so "
    "MaxSigninSessionDuration is not supported."
)


class PasswordPolicyViolation(ServiceError, service="iam"): ...


class InvalidUserType(ServiceError, service="iam"): ...


class WrongPassword(ServiceError):
    """A wrong OldPassword (AWS's common AccessDenied: the model names no error for it)."""

    code, status, sender_fault = "AccessDenied", 403, True


def profile_shape(record: dict[str, Any], tags: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": record["path"],
        "InstanceProfileName": record["name"],
        "InstanceProfileId": record["id"],
        "Arn": record["arn"],
        "CreateDate": shapes.when(record["created"]),
        "Roles": [shapes.role(role) for role in record["roles"]],
    }
    if tags:
        out["Tags"] = shapes.tag_list(tags)
    return out


def _violations(password: str, policy: dict[str, Any] | None) -> list[str]:
    """What a password lacks under the account's password policy (AWS's minimum of 6 without one)."""
    policy = policy or {"MinimumPasswordLength": 6}
    lacks = []
    if len(password) < policy["MinimumPasswordLength"]:
        lacks.append(f"at least {policy['MinimumPasswordLength']} characters")
    checks = [
        ("RequireUppercaseCharacters", string.ascii_uppercase, "an uppercase letter"),
        ("RequireLowercaseCharacters", string.ascii_lowercase, "a lowercase letter"),
        ("RequireNumbers", string.digits, "a number"),
        ("RequireSymbols", "!@#$%^&*()_+-=[]{}|'", "a symbol"),
    ]
    for key, characters, words in checks:
        if policy.get(key) and not any(c in characters for c in password):
            lacks.append(words)
    return lacks


class ProfileOperations:
    store: IamStore

    # -- instance profiles -----------------------------------------------------------------------------

    def create_instance_profile(self, ctx: RequestContext, params: Params) -> Output:
        name = params["InstanceProfileName"]
        self.store.create_profile(name, params.get("Path") or "/")
        if params.get("Tags"):
            self.store.tag("instance-profile", name, params["Tags"])
        return {
            "InstanceProfile": profile_shape(
                self.store.profile(name), self.store.tags("instance-profile", name)
            )
        }

    def _one_profile(self, name: str) -> Output:
        tags = self.store.tags("instance-profile", name)
        return {"InstanceProfile": profile_shape(self.store.profile(name), tags)}

    def get_instance_profile(self, ctx: RequestContext, params: Params) -> Output:
        name = params["InstanceProfileName"]
        return {
            "InstanceProfile": profile_shape(
                self.store.profile(name), self.store.tags("instance-profile", name)
            )
        }

    def list_instance_profiles(self, ctx: RequestContext, params: Params) -> Output:
        found = self.store.profiles(params.get("PathPrefix") or "/")
        return shapes.page([profile_shape(p) for p in found], params, "InstanceProfiles")

    def list_instance_profiles_for_role(self, ctx: RequestContext, params: Params) -> Output:
        found = self.store.profiles(role=params["RoleName"])
        return shapes.page([profile_shape(p) for p in found], params, "InstanceProfiles")

    def delete_instance_profile(self, ctx: RequestContext, params: Params) -> Output:
        self.store.delete_profile(params["InstanceProfileName"])
        return {}

    def add_role_to_instance_profile(self, ctx: RequestContext, params: Params) -> Output:
        self.store.profile_role(params["InstanceProfileName"], params["RoleName"])
        return {}

    def remove_role_from_instance_profile(self, ctx: RequestContext, params: Params) -> Output:
        self.store.profile_role(params["InstanceProfileName"], params["RoleName"], remove=True)
        return {}

    def tag_instance_profile(self, ctx: RequestContext, params: Params) -> Output:
        return tagging.tag(self.store, "instance-profile", params["InstanceProfileName"], params)

    def untag_instance_profile(self, ctx: RequestContext, params: Params) -> Output:
        return tagging.untag(self.store, "instance-profile", params["InstanceProfileName"], params)

    def list_instance_profile_tags(self, ctx: RequestContext, params: Params) -> Output:
        return tagging.listed(self.store, "instance-profile", params["InstanceProfileName"], params)

    # -- login profiles --------------------------------------------------------------------------------

    def _check_password(self, user: str, password: str) -> None:
        policy = self.store.setting("password_policy")
        lacks = _violations(password, policy)
        reuse = (policy or {}).get("PasswordReusePrevention") or 0
        if reuse and self.store.reused(user, password, reuse):
            lacks.append(f"to differ from the last {reuse} passwords")
        if lacks:
            raise PasswordPolicyViolation(
                f"Password does not conform to the account password policy: it needs {', '.join(lacks)}."
            )

    def _login_user(self, ctx: RequestContext, params: Params) -> str:
        if params.get("UserName"):
            return str(params["UserName"])
        record = self.store.resolve(ctx.access_key)
        if record is None or record.principal.kind != "user":
            raise InvalidInput("Must specify a userName when calling with non-User credentials")
        return record.principal.name

    def _login_out(self, user: str, row: dict[str, Any]) -> Output:
        return {
            "LoginProfile": {
                "UserName": user,
                "CreateDate": shapes.when(row["created"]),
                "PasswordResetRequired": bool(row["reset_required"]),
            }
        }

    def create_login_profile(self, ctx: RequestContext, params: Params) -> Output:
        if params.get("MaxSigninSessionDuration") is not None:
            raise InvalidInput(_SIGNIN)
        user = self._login_user(ctx, params)
        if not params.get("Password"):
            raise InvalidInput("Outcrop stores console passwords it is given: pass Password.")
        self.store.get("user", user)
        self._check_password(user, params["Password"])
        row = self.store.set_login(
            user, params["Password"], bool(params.get("PasswordResetRequired")), create=True
        )
        return self._login_out(user, row)

    def get_login_profile(self, ctx: RequestContext, params: Params) -> Output:
        user = self._login_user(ctx, params)
        return self._login_out(user, self.store.login_profile(user))

    def update_login_profile(self, ctx: RequestContext, params: Params) -> Output:
        if params.get("MaxSigninSessionDuration") is not None:
            raise InvalidInput(_SIGNIN)
        user = params["UserName"]
        self.store.login_profile(user)
        if params.get("Password") is not None:
            self._check_password(user, params["Password"])
        self.store.set_login(user, params.get("Password"), params.get("PasswordResetRequired"))
        return {}

    def delete_login_profile(self, ctx: RequestContext, params: Params) -> Output:
        self.store.delete_login(self._login_user(ctx, params))
        return {}

    def change_password(self, ctx: RequestContext, params: Params) -> Output:
        """An IAM user changes its own password: the old one must match, the new one meet the policy;
        the reset flag clears, as after AWS's forced change at sign-in. The call is authorized by
        iam:ChangePassword, as on AWS (the policy's AllowUsersToChangePassword grants it in the console)."""
        record = self.store.resolve(ctx.access_key)
        if record is None or record.principal.kind != "user":
            raise InvalidUserType("Only IAM users can change their own password.")
        user = record.principal.name
        if not self.store.login_matches(user, params["OldPassword"]):
            raise WrongPassword("The old password is incorrect.")
        self._check_password(user, params["NewPassword"])
        self.store.set_login(user, params["NewPassword"], False)
        return {}
