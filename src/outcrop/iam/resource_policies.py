"""Resource-based policies the authorizer reads from other services' stores, by IAM prefix.

A source takes the request's resource ARN, region and account and answers the ARN the policy belongs to
with the policy's text, or None when there is none: KMS key policies, S3 bucket policies (for the bucket
and every object in it) and Lambda function policies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from outcrop.iam.errors import MalformedPolicyDocument
from outcrop.iam.store_policies import compiled
from outcrop.protocol.errors import ServiceError

if TYPE_CHECKING:
    from outcrop.kms.keys import Keyring
    from outcrop.kms.store import GrantRecord

ResourcePolicySource = Callable[[str, str, str], tuple[str, str] | None]

# Services whose resource policy must allow a request (itself, or by naming the account so that IAM
# policies decide): a KMS key policy is its key's primary access control.
REQUIRED = frozenset({"kms"})


class PolicyTexts(Protocol):
    """A store of resource policies by resource name (S3's bucket policies, Lambda's function policies)."""

    def get(self, name: str) -> str | None: ...


def kms_key_policies(keyring: Callable[[], Keyring]) -> ResourcePolicySource:
    """A KMS key's policy, by key ARN, key id or alias (an alias stands for its key, as in KMS), with
    the key's grants added as statements: a grant allows its grantee its operations, under its
    encryption context and SourceArn constraints, from the moment CreateGrant answers."""

    def lookup(resource: str, region: str, account: str) -> tuple[str, str] | None:
        if resource == "*" or ":key/*" in resource:
            return None
        try:
            ring = keyring()
            key = ring.resolve(account, region, resource)
        except ServiceError:
            return None  # no such key: the operation answers NotFoundException itself
        grants = ring.store.grants(key.key_id)
        if not grants:
            return key.arn, key.policy
        text = with_grants(key.policy, grants)
        try:
            compiled(text, "resource")
        except MalformedPolicyDocument:  # a grantee IAM would not name: the key policy alone decides
            return key.arn, key.policy
        return key.arn, text

    return lookup


def with_grants(policy: str, grants: Sequence[GrantRecord]) -> str:
    """A key policy with one Allow statement per grant (see `kms_key_policies`)."""
    try:
        document = json.loads(policy)
    except ValueError:
        return policy
    statements = document.get("Statement") if isinstance(document, dict) else None
    if not isinstance(statements, list | dict):
        return policy
    found = list(statements) if isinstance(statements, list) else [statements]
    for grant in grants:
        service = not grant.grantee.startswith("arn:") and "." in grant.grantee
        condition: dict[str, dict[str, Any]] = {}
        constraints = grant.constraints or {}
        pairs = constraints.get("EncryptionContextEquals") or constraints.get("EncryptionContextSubset") or {}
        if pairs:
            condition["StringEquals"] = {f"kms:EncryptionContext:{k}": v for k, v in pairs.items()}
        if constraints.get("EncryptionContextEquals"):
            condition["ForAllValues:StringEquals"] = {"kms:EncryptionContextKeys": list(pairs)}
        if constraints.get("SourceArn"):
            condition["ArnEquals"] = {"aws:SourceArn": constraints["SourceArn"]}
        statement: dict[str, Any] = {
            "Sid": f"grant-{grant.grant_id[:16]}",
            "Effect": "Allow",
            "Principal": {"Service" if service else "AWS": grant.grantee},
            "Action": [f"kms:{operation}" for operation in grant.operations],
            "Resource": "*",
        }
        if condition:
            statement["Condition"] = condition
        found.append(statement)
    return json.dumps({**document, "Statement": found})


def s3_bucket_policies(store: Callable[[], PolicyTexts]) -> ResourcePolicySource:
    """A bucket's policy decides requests on the bucket and on every object in it."""

    def lookup(resource: str, region: str, account: str) -> tuple[str, str] | None:
        if not resource.startswith("arn:aws:s3:::"):
            return None
        bucket = resource[len("arn:aws:s3:::") :].split("/", 1)[0]
        text = store().get(bucket) if bucket and "*" not in bucket else None
        return (resource, text) if text is not None else None

    return lookup


class FunctionPolicyTexts(Protocol):
    """Lambda's function policies, by (account, region, function name)."""

    def text(self, key: tuple[str, str, str]) -> str | None: ...


def lambda_function_policies(store: Callable[[], FunctionPolicyTexts]) -> ResourcePolicySource:
    """A function's policy decides requests on the function (unqualified or $LATEST), in the function's
    own account and region as its ARN names them."""

    def lookup(resource: str, region: str, account: str) -> tuple[str, str] | None:
        parts = resource.split(":")
        if len(parts) < 7 or parts[:3] != ["arn", "aws", "lambda"] or parts[5] != "function":
            return None
        if "*" in parts[6] or (len(parts) > 7 and parts[7] != "$LATEST"):
            return None  # no versions or aliases here: a qualified ARN has no policy of its own
        text = store().text((parts[4], parts[3], parts[6]))
        return (":".join(parts[:7]), text) if text is not None else None

    return lookup
