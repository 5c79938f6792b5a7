"""Resource-based policies the authorizer reads from other services' stores, by IAM prefix.

A source takes the request's resource ARN, region and account and answers the ARN the policy belongs to
with the policy's text, or None when there is none. KMS key policies are the one such store today;
S3 keeps no bucket policies yet (PutBucketPolicy is not served), so S3 requests are decided by identity
policies alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from outcrop.protocol.errors import ServiceError

if TYPE_CHECKING:
    from outcrop.kms.keys import Keyring

ResourcePolicySource = Callable[[str, str, str], tuple[str, str] | None]

# Services whose resource policy must allow a request (itself, or by naming the account so that IAM
# policies decide): a KMS key policy is its key's primary access control.
REQUIRED = frozenset({"kms"})


def kms_key_policies(keyring: Callable[[], Keyring]) -> ResourcePolicySource:
    """A KMS key's policy, by key ARN, key id or alias (an alias stands for its key, as in KMS)."""

    def lookup(resource: str, region: str, account: str) -> tuple[str, str] | None:
        if resource == "*" or ":key/*" in resource:
            return None
        try:
            key = keyring().resolve(account, region, resource)
        except ServiceError:
            return None  # no such key: the operation answers NotFoundException itself
        return key.arn, key.policy

    return lookup
