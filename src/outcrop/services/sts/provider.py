"""AWS STS: who am I, and temporary credentials. SDKs call GetCallerIdentity to check their credentials;
AssumeRole gives a role's session credentials, which `auth = "iam"` then authorizes as that role.

Under `auth = "iam"` AssumeRole checks the role's trust policy; in the other modes every caller is the
account root, as every request is admitted, so the trust policy is not consulted.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from outcrop.config import Settings
from outcrop.iam.actions import request_keys
from outcrop.iam.evaluate import Principal, trusts
from outcrop.iam.managed import BY_ARN
from outcrop.iam.store import IamStore, KeyRecord, mfa_context
from outcrop.iam.store_account import MFA_ROOT
from outcrop.iam.store_policies import compiled
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext, Service
from outcrop.services.unserved import as_written, refuse_unserved

Params = dict[str, Any]
Output = dict[str, Any]
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
SESSION_TOKEN_RANGE = (900, 129600)
SESSION_POLICY_LIMIT = 2048


class ValidationError(ServiceError):
    code, status, sender_fault = "ValidationError", 400, True


class AccessDenied(ServiceError):
    code, status, sender_fault = "AccessDenied", 403, True


class InvalidIdentityToken(ServiceError, service="sts"): ...


class PackedPolicyTooLarge(ServiceError, service="sts"): ...


class InvalidContextAssertion(ServiceError, service="sts"): ...


class Sts(Service):
    service_name = "sts"

    def __init__(self, *, iam: IamStore, settings: Settings) -> None:
        self.store = iam
        self.enforce_trust = settings.auth == "iam"
        self.root_keys = frozenset(settings.credentials)

    def _caller(self, ctx: RequestContext) -> Principal:
        record = self.store.resolve(ctx.access_key)
        return record.principal if record is not None else self.store.root_principal(ctx.access_key)

    def get_caller_identity(self, ctx: RequestContext, params: Params) -> Output:
        principal = self._caller(ctx)
        user_id = principal.user_id if principal.kind != "root" else ctx.access_key
        if ctx.access_key == "anonymous":
            user_id = ctx.account_id
        return {"UserId": user_id, "Account": principal.account, "Arn": principal.arn}

    def assume_role(self, ctx: RequestContext, params: Params) -> Output:
        role_arn, session_name = params["RoleArn"], params["RoleSessionName"]
        if not _SESSION_NAME.fullmatch(session_name):
            raise ValidationError(
                f"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            )
        _refuse_unserved(params)
        caller = self._caller(ctx)
        tags, transitive = _session_tags(caller, params)
        trust = self.store.trust_policy(role_arn)
        denied = AccessDenied(
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        )
        if trust is None:
            raise denied
        mfa_at = self._mfa(ctx, caller, params)
        context = {
            "aws:requestedregion": [ctx.region],
            **request_keys("sts", params),
            **_mfa_keys(mfa_at, self.store.resolve(ctx.access_key)),
        }
        if self.enforce_trust and not trusts(trust, caller, context):
            raise denied
        if self.enforce_trust and tags and not trusts(trust, caller, context, "sts:TagSession"):
            raise AccessDenied(
                f"User: {caller.arn} is not authorized to perform: sts:TagSession on resource: {role_arn}"
            )
        role = self.store.get("role", role_arn.rsplit("/", 1)[-1])
        seconds = params.get("DurationSeconds") or 3600
        if seconds > role["max_session"]:
            raise ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        if seconds < 900:
            raise ValidationError(
                f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy "
                "constraint: Member must have value greater than or equal to 900"
            )
        session_policy = self._session_policy(params)
        session = self.store.create_session(
            "role",
            role["name"],
            session_name,
            seconds,
            session_policy,
            tags,
            transitive,
            params.get("MinimumSessionTokenSize") or 0,
            mfa_at,
        )
        out = _issued(
            session,
            session_policy,
            AssumedRoleUser={
                "AssumedRoleId": f"{role['id']}:{session_name}",
                "Arn": f"arn:aws:sts::{ctx.account_id}:assumed-role/{role['name']}/{session_name}",
            },
        )
        if params.get("SourceIdentity"):
            out["SourceIdentity"] = params["SourceIdentity"]
        return out

    def _session_policy(self, params: Params) -> str | None:
        """The session policy passed inline (`Policy`) and by ARN (`PolicyArns`), as one document."""
        statements: list[Any] = []
        if params.get("Policy"):
            text = params["Policy"]
            if len(text) > SESSION_POLICY_LIMIT:
                raise PackedPolicyTooLarge(
                    "Packed size of session policies exceeds the 2048-character limit for this request."
                )
            compiled(text)
            raw = json.loads(text)["Statement"]
            statements += raw if isinstance(raw, list) else [raw]
        for item in params.get("PolicyArns") or []:
            arn = item.get("arn", "")
            aws = BY_ARN.get(arn)
            document = aws.document if aws is not None else self._managed_document(arn)
            raw = json.loads(document)["Statement"]
            statements += raw if isinstance(raw, list) else [raw]
        if not statements:
            return None
        return json.dumps({"Version": "2012-10-17", "Statement": statements})

    def _managed_document(self, arn: str) -> str:
        policy = self.store.policy(arn)
        return str(self.store.version(arn, policy["default_version"])["document"])

    def get_session_token(self, ctx: RequestContext, params: Params) -> Output:
        _refuse_unserved(params)
        caller = self._caller(ctx)
        record = self.store.resolve(ctx.access_key)
        if caller.kind == "assumed-role" or (record is not None and record.token):
            raise AccessDenied("Cannot call GetSessionToken with session credentials")
        seconds = params.get("DurationSeconds") or 43200
        low, high = SESSION_TOKEN_RANGE
        if not low <= seconds <= high:
            raise ValidationError(
                f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy "
                f"constraint: Member must have value between {low} and {high}"
            )
        kind = "user" if caller.kind == "user" else "root"
        mfa_at = self._mfa(ctx, caller, params)
        session = self.store.create_session(
            kind,
            caller.name,
            "",
            seconds,
            None,
            min_token=params.get("MinimumSessionTokenSize") or 0,
            mfa_at=mfa_at,
        )
        return {"Credentials": _credentials(session)}

    def get_federation_token(self, ctx: RequestContext, params: Params) -> Output:
        """A federated user's session for an IAM user (or the root) with long-term keys: the caller's
        permissions intersected with the session policy passed (none passed: no permissions)."""
        _refuse_unserved(params)
        caller = self._caller(ctx)
        record = self.store.resolve(ctx.access_key)
        if caller.kind not in ("user", "root") or (record is not None and record.token):
            raise AccessDenied("Cannot call GetFederationToken with session credentials")
        if params.get("Tags"):
            raise ValidationError(
                "Outcrop does not carry session tags on federated user sessions: call without Tags."
            )
        name = params["Name"]
        if not _SESSION_NAME.fullmatch(name):
            raise ValidationError(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            )
        seconds = params.get("DurationSeconds") or 43200
        high = 3600 if caller.kind == "root" else SESSION_TOKEN_RANGE[1]
        seconds = min(seconds, high)  # AWS caps the root's at an hour rather than refusing
        if seconds < SESSION_TOKEN_RANGE[0] or seconds > SESSION_TOKEN_RANGE[1]:
            raise ValidationError(
                f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy "
                f"constraint: Member must have value between {SESSION_TOKEN_RANGE[0]} and "
                f"{SESSION_TOKEN_RANGE[1]}"
            )
        policy = self._session_policy(params)
        owner = caller.name if caller.kind == "user" else MFA_ROOT
        session = self.store.create_session(
            "federated", owner, name, seconds, policy, min_token=params.get("MinimumSessionTokenSize") or 0
        )
        return _issued(
            session,
            policy,
            FederatedUser={
                "FederatedUserId": f"{ctx.account_id}:{name}",
                "Arn": f"arn:aws:sts::{ctx.account_id}:federated-user/{name}",
            },
        )

    def get_access_key_info(self, ctx: RequestContext, params: Params) -> Output:
        """The account of a key this server holds (its root keys, IAM users' keys, STS credentials). AWS
        reads the account out of any key id; Outcrop's keys carry none, so a key it does not hold is
        refused rather than answered with a guess."""
        key = params["AccessKeyId"]
        if key not in self.root_keys and key != ctx.access_key and self.store.resolve(key) is None:
            raise ValidationError(
                f"Outcrop cannot tell the account of access key {key}: it is not a key this server holds."
            )
        return {"Account": self.store.account_id}

    def _mfa(self, ctx: RequestContext, caller: Principal, params: Params) -> float | None:
        """When the call's MFA code was checked (now), or, without one, when the calling session's was
        (a session made with MFA passes it on); None when no MFA took part. A wrong code is AccessDenied,
        worded as STS words it."""
        serial, code = params.get("SerialNumber"), params.get("TokenCode")
        if not serial and not code:
            record = self.store.resolve(ctx.access_key)
            return record.mfa if record is not None and record.token else None
        if not serial or not code:
            raise ValidationError("SerialNumber and TokenCode must be passed together.")
        owner = {"user": caller.name, "root": MFA_ROOT}.get(caller.kind)
        valid = self.store.check_mfa(owner, serial, code) if owner is not None else None
        if valid is None:
            raise AccessDenied(
                "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA "
                "serial number is valid and associated with this user."
            )
        if not valid:
            raise AccessDenied("MultiFactorAuthentication failed with invalid MFA one time pass code. ")
        return time.time()

    def assume_role_with_web_identity(self, ctx: RequestContext, params: Params) -> Output:
        raise InvalidIdentityToken(
            "Outcrop has no OpenID Connect identity provider configured, so it cannot verify the web "
            "identity token: AssumeRoleWithWebIdentity is refused. Use AssumeRole with IAM credentials."
        )


_CONTEXTS = {
    "ProvidedContexts": "Outcrop has no trusted context provider (IAM Identity Center), so it cannot verify "
    "ProvidedContexts: call without them."
}


def _refuse_unserved(params: Params) -> None:
    """Trusted context assertions cannot be verified here: refused, never ignored."""
    refuse_unserved(params, _CONTEXTS, InvalidContextAssertion, message=as_written)


def _mfa_keys(mfa_at: float | None, record: KeyRecord | None) -> dict[str, list[str]]:
    """The MFA condition keys an AssumeRole's trust policy sees: the call's own MFA, else the calling
    session's (none for long-term keys, as on AWS)."""
    temporary = record is not None and bool(record.token)
    return mfa_context(temporary or mfa_at is not None, mfa_at, time.time())


def _session_tags(caller: Principal, params: Params) -> tuple[dict[str, str], list[str]]:
    """The session's tags and transitive keys: those passed, plus the transitive ones a chained
    session inherits (which a new tag may not override, as on AWS)."""
    tags = {str(t["Key"]): str(t.get("Value") or "") for t in params.get("Tags") or []}
    lowered = {k.lower() for k in tags}
    if len(lowered) != len(tags):
        raise ValidationError("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    transitive = [str(k) for k in params.get("TransitiveTagKeys") or []]
    unknown = [k for k in transitive if k.lower() not in lowered]
    if unknown:
        raise ValidationError(f"The transitive tag keys {unknown} are not among the session tags passed.")
    inherited = dict(caller.tags) if caller.kind == "assumed-role" else {}
    for key in caller.transitive:
        if key.lower() in lowered:
            raise ValidationError(
                f"The session tag {key} is transitive from the calling session and cannot be overridden."
            )
        value = next((v for k, v in inherited.items() if k.lower() == key.lower()), None)
        if value is not None:
            tags[key] = value
            transitive.append(key)
    return tags, transitive


def _issued(session: dict[str, Any], session_policy: str | None, **principal: dict[str, str]) -> Output:
    """An AssumeRole or GetFederationToken answer: the credentials, whom they act as, and how much of
    the session-policy limit the policy passed takes up (only when one was)."""
    out: Output = {"Credentials": _credentials(session), **principal}
    if session_policy:
        out["PackedPolicySize"] = min(100, 100 * len(session_policy) // SESSION_POLICY_LIMIT)
    return out


def _credentials(session: dict[str, Any]) -> dict[str, Any]:
    return {
        "AccessKeyId": session["id"],
        "SecretAccessKey": session["secret"],
        "SessionToken": session["token"],
        "Expiration": datetime.fromtimestamp(session["expires"], UTC),
    }
