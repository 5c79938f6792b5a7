"""IAM's account-wide operations: the account alias, GetAccountSummary, the password policy and the
credential report. Mixed into `Iam`; the settings persist in the principal store's `account` table."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from outcrop.audit.trail import AuditTrail
from outcrop.iam.errors import NoSuchEntity
from outcrop.iam.store import ACCESS_KEYS_PER_USER, IamStore
from outcrop.iam.store_account import MFA_ROOT
from outcrop.iam.store_policies import MANAGED_LIMIT, VERSIONS_LIMIT
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.iam import shapes

Params = dict[str, Any]
Output = dict[str, Any]
REPORT_TTL_S = 4 * 3600  # AWS regenerates a credential report at most every four hours
# AWS's default IAM quotas, as GetAccountSummary reports them (those Outcrop enforces come from the
# stores that enforce them)
QUOTAS = {
    "UsersQuota": 5000,
    "GroupsQuota": 300,
    "RolesQuota": 1000,
    "PoliciesQuota": 1500,
    "InstanceProfilesQuota": 1000,
    "ServerCertificatesQuota": 20,
    "AccessKeysPerUserQuota": ACCESS_KEYS_PER_USER,
    "SigningCertificatesPerUserQuota": 2,
    "GroupsPerUserQuota": 10,
    "AttachedPoliciesPerUserQuota": 10,
    "AttachedPoliciesPerGroupQuota": 10,
    "AttachedPoliciesPerRoleQuota": 10,
    "PolicySizeQuota": MANAGED_LIMIT,
    "UserPolicySizeQuota": 2048,
    "GroupPolicySizeQuota": 5120,
    "RolePolicySizeQuota": 10240,
    "AssumeRolePolicySizeQuota": 2048,
    "VersionsPerPolicyQuota": VERSIONS_LIMIT,
    "PolicyVersionsInUseQuota": 10000,
    "GlobalEndpointTokenVersion": 1,
}
# The credential report's columns, in AWS's order.
COLUMNS = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
]
PASSWORD_DEFAULTS = {
    "MinimumPasswordLength": 6,
    "RequireSymbols": False,
    "RequireNumbers": False,
    "RequireUppercaseCharacters": False,
    "RequireLowercaseCharacters": False,
    "AllowUsersToChangePassword": False,
    "MaxPasswordAge": 0,
    "PasswordReusePrevention": 0,
    "HardExpiry": False,
}


class ReportNotPresent(ServiceError, service="iam"): ...


class ReportExpired(ServiceError, service="iam"): ...


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return "N/A"
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


class AccountOperations:
    store: IamStore
    audit: AuditTrail

    # -- alias -----------------------------------------------------------------------------------------

    def create_account_alias(self, ctx: RequestContext, params: Params) -> Output:
        """An account has one alias: a new one replaces the old, as on AWS. Aliases are unique across
        accounts there; Outcrop's principal store holds one account, so none is ever taken."""
        self.store.set_setting("alias", params["AccountAlias"])
        return {}

    def delete_account_alias(self, ctx: RequestContext, params: Params) -> Output:
        if self.store.setting("alias") != params["AccountAlias"]:
            raise NoSuchEntity(f"The account alias {params['AccountAlias']} cannot be found.")
        self.store.set_setting("alias", None)
        return {}

    def list_account_aliases(self, ctx: RequestContext, params: Params) -> Output:
        alias = self.store.setting("alias")
        return shapes.page([alias] if alias else [], params, "AccountAliases")

    def list_saml_providers(self, ctx: RequestContext, params: Params) -> Output:
        """The account's SAML identity providers: none, since Outcrop verifies no SAML assertions
        (CreateSAMLProvider and AssumeRoleWithSAML answer NotImplemented), so the empty list is the truth."""
        return {"SAMLProviderList": []}

    # -- summary ---------------------------------------------------------------------------------------

    def get_account_summary(self, ctx: RequestContext, params: Params) -> Output:
        """Counts read from the store; the quotas AWS gives a new account. The account root's access keys
        are the server's `[credentials]` (or dev mode's any key), so AccountAccessKeysPresent is 1; Outcrop
        has no root password, signing certificates, server certificates or identity providers."""
        summary = {
            **self.store.counts(),
            **QUOTAS,
            "AccountAccessKeysPresent": 1,
            "AccountPasswordPresent": 0,
            "AccountSigningCertificatesPresent": 0,
            "ServerCertificates": 0,
            "Providers": 0,
        }
        return {"SummaryMap": summary}

    # -- password policy -------------------------------------------------------------------------------

    def update_account_password_policy(self, ctx: RequestContext, params: Params) -> Output:
        """Every member not passed takes its default, as AWS documents (the call replaces the policy)."""
        policy = {key: params.get(key, default) for key, default in PASSWORD_DEFAULTS.items()}
        self.store.set_setting("password_policy", policy)
        return {}

    def get_account_password_policy(self, ctx: RequestContext, params: Params) -> Output:
        policy = self.store.setting("password_policy")
        if policy is None:
            raise NoSuchEntity(f"The Password Policy with domain name {ctx.account_id} cannot be found.")
        out = {k: v for k, v in policy.items() if k not in ("MaxPasswordAge", "PasswordReusePrevention")}
        out["ExpirePasswords"] = policy["MaxPasswordAge"] > 0
        for key in ("MaxPasswordAge", "PasswordReusePrevention"):
            if policy[key]:
                out[key] = policy[key]
        return {"PasswordPolicy": out}

    def delete_account_password_policy(self, ctx: RequestContext, params: Params) -> Output:
        if self.store.setting("password_policy") is None:
            raise NoSuchEntity("The account policy with name PasswordPolicy cannot be found.")
        self.store.set_setting("password_policy", None)
        return {}

    # -- credential report -----------------------------------------------------------------------------

    def generate_credential_report(self, ctx: RequestContext, params: Params) -> Output:
        """A report younger than four hours stands (COMPLETE); otherwise a new one is made now: Outcrop
        writes it before answering, so the STARTED task is already done when GetCredentialReport asks."""
        report = self.store.setting("credential_report")
        if report is not None and time.time() - report["generated"] < REPORT_TTL_S:
            return {"State": "COMPLETE"}
        self.store.set_setting("credential_report", {"generated": time.time(), "csv": self._report(ctx)})
        return {"State": "STARTED", "Description": "No report exists. Starting a new report generation task"}

    def get_credential_report(self, ctx: RequestContext, params: Params) -> Output:
        report = self.store.setting("credential_report")
        if report is None:
            raise ReportNotPresent(
                "Credential report not present. Call GenerateCredentialReport to generate one."
            )
        if time.time() - report["generated"] >= REPORT_TTL_S:
            raise ReportExpired("Credential report expired. Call GenerateCredentialReport again.")
        return {
            "Content": report["csv"].encode(),
            "ReportFormat": "text/csv",
            "GeneratedTime": shapes.when(report["generated"]),
        }

    def _report(self, ctx: RequestContext) -> str:
        """The CSV AWS lays out: the root first, then each user. Outcrop has no signing certificates
        (`false`, `N/A`) and no root password (`not_supported`, as AWS words it); key use comes from the
        audit log, as GetAccessKeyLastUsed."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        root_mfa = bool(self.store.mfa_devices(MFA_ROOT))
        root = {
            "user": "<root_account>",
            "arn": f"arn:aws:iam::{ctx.account_id}:root",
            "user_creation_time": _iso(self._created_epoch()),
            "password_enabled": "not_supported",
            "password_last_changed": "not_supported",
            "password_next_rotation": "not_supported",
            "mfa_active": str(root_mfa).lower(),
        }
        writer.writerow(self._row(root, []))
        for user in self.store.entities("user"):
            name = user["name"]
            row = {
                "user": name,
                "arn": user["arn"],
                "user_creation_time": _iso(user["created"]),
                "password_enabled": "false",
                "mfa_active": str(bool(self.store.mfa_devices(name))).lower(),
                **self._password_columns(name),
            }
            writer.writerow(self._row(row, self.store.access_keys(name)))
        return out.getvalue().rstrip("\n")

    def _password_columns(self, user: str) -> dict[str, str]:
        """A user's console password: set, when changed, when it must next change (the policy's maximum
        age), and never used to sign in ("no_information": Outcrop signs in with keys only)."""
        try:
            login = self.store.login_profile(user)
        except NoSuchEntity:
            return {}
        policy = self.store.setting("password_policy") or {}
        age = policy.get("MaxPasswordAge") or 0
        return {
            "password_enabled": "true",
            "password_last_used": "no_information",
            "password_last_changed": _iso(login["changed"]),
            "password_next_rotation": _iso(login["changed"] + age * 86400) if age else "N/A",
        }

    def _row(self, known: dict[str, str], keys: list[dict[str, Any]]) -> list[str]:
        row = {column: "N/A" for column in COLUMNS}
        row.update({"cert_1_active": "false", "cert_2_active": "false"})
        for number in (1, 2):
            row[f"access_key_{number}_active"] = "false"
        for number, key in enumerate(keys[:2], start=1):
            prefix = f"access_key_{number}"
            row[f"{prefix}_active"] = str(key["status"] == "Active").lower()
            row[f"{prefix}_last_rotated"] = _iso(key["created"])
            used = self.audit.events.last_use(key["id"])
            if used is not None:
                at, source, region = used
                row[f"{prefix}_last_used_date"] = _iso(at)
                row[f"{prefix}_last_used_region"] = region
                row[f"{prefix}_last_used_service"] = source.removesuffix(".amazonaws.com")
        row.update(known)
        return [row[column] for column in COLUMNS]

    def _created_epoch(self) -> float:
        try:
            return self.store.db.path.stat().st_ctime
        except OSError:
            return 0.0
