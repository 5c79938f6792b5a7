"""KMS request options that every operation shares: DryRun, GrantTokens, and the key policy lockout
safety check (BypassPolicyLockoutSafetyCheck) of CreateKey and PutKeyPolicy.

- DryRun: the request is authorized (by `auth = "iam"`, before the operation runs) and validated, and
  answers DryRunOperationException instead of its result; grant operations stop before they change
  anything, and the cryptographic ones change nothing.
- GrantTokens are accepted and need no handling: a grant takes effect here as soon as CreateGrant
  answers, so there is no eventual consistency for a token to bridge.
- The lockout check: under `auth = "iam"`, a key policy that would not let the caller call
  PutKeyPolicy on the key afterwards is refused with MalformedPolicyDocumentException, as KMS does,
  unless BypassPolicyLockoutSafetyCheck is true. The account root (the config's credentials) is never
  locked out here, so the check concerns IAM users and roles only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outcrop.iam.errors import MalformedPolicyDocument
from outcrop.iam.evaluate import evaluate
from outcrop.iam.store import IamStore
from outcrop.iam.store_policies import compiled
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext


class DryRunOperationException(ServiceError, service="kms"): ...


class MalformedPolicyDocumentException(ServiceError, service="kms"): ...


DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."


def dry_run(params: Mapping[str, Any]) -> None:
    """Called once a request has been validated, before it changes or answers anything."""
    if params.get("DryRun"):
        raise DryRunOperationException(DRY_RUN_MESSAGE)


def ignores_ciphertext(params: Mapping[str, Any]) -> bool:
    """Decrypt/ReEncrypt DryRun with DryRunModifiers IGNORE_CIPHERTEXT: authorization only."""
    return bool(params.get("DryRun")) and "IGNORE_CIPHERTEXT" in (params.get("DryRunModifiers") or [])


def check_lockout(
    iam: IamStore | None, ctx: RequestContext, policy: str | None, key_arn: str, params: Mapping[str, Any]
) -> None:
    """KMS's key policy lockout safety check (see the module docstring); `iam` is None outside
    `auth = "iam"`, where every caller is the account and cannot be locked out."""
    if iam is None or policy is None or params.get("BypassPolicyLockoutSafetyCheck"):
        return
    record = iam.resolve(ctx.access_key)
    if record is None or record.principal.kind == "root":
        return
    try:
        document = compiled(policy, "resource")
    except MalformedPolicyDocument:
        return  # the keyring refuses it with KMS's own wording
    decision = evaluate(record.principal, "kms:PutKeyPolicy", key_arn, {}, document, resource_required=True)
    if not decision.allowed:
        raise MalformedPolicyDocumentException(
            "The new key policy will not allow you to update the key policy in the future."
        )
