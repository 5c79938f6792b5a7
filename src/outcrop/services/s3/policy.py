"""S3 bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus.

A policy is checked with IAM's policy parser after S3's own checks (S3 words its MalformedPolicy
sentences differently from IAM), kept in `BucketPolicyStore` beside the bucket and removed with it, and
read by the `auth = "iam"` authorizer (`outcrop.iam.resource_policies.s3_bucket_policies`), which combines
it with identity policies as AWS does.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from outcrop.iam.errors import MalformedPolicyDocument
from outcrop.iam.policy import parse_policy
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.s3.common import Output, Params, _translating
from outcrop.storage.objects import ObjectStore
from outcrop.storage.sqlite import Database, Migration

MAX_POLICY_BYTES = 20 * 1024  # S3's limit on a bucket policy
_MIGRATIONS: list[Migration] = [
    ("0001-bucket-policies", "CREATE TABLE bucket_policies (bucket TEXT PRIMARY KEY, policy TEXT NOT NULL)"),
]
# Object-level actions apply to `bucket/key` resources; the rest apply to the bucket itself.
_OBJECT_ACTION = re.compile(r"s3:(.*Object.*|AbortMultipartUpload|ListMultipartUploadParts)", re.I)
# Condition keys that pin a "*" principal to known callers, so the policy is not public (S3's rule).
_PINNING_KEYS = frozenset(
    {
        "aws:sourceip",
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:userid",
    }
)


class MalformedPolicy(ServiceError, service="s3"):
    status = 400


class NoSuchBucketPolicy(ServiceError, service="s3"):
    status = 404


class BucketPolicyStore:
    """Each bucket's policy text, in SQLite and mirrored in memory: the authorizer reads it per request."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path, _MIGRATIONS)
        self._lock = threading.Lock()
        with self.db.read() as tx:
            self._policies = {
                row[0]: row[1] for row in tx.execute("SELECT bucket, policy FROM bucket_policies")
            }

    def get(self, bucket: str) -> str | None:
        return self._policies.get(bucket)

    def put(self, bucket: str, policy: str | None) -> None:
        """Set a bucket's policy, or remove it (None)."""
        if policy is None and bucket not in self._policies:
            return
        with self._lock:
            with self.db.transaction() as tx:
                tx.execute("DELETE FROM bucket_policies WHERE bucket = ?", (bucket,))
                if policy is not None:
                    tx.execute("INSERT INTO bucket_policies VALUES (?, ?)", (bucket, policy))
            if policy is None:
                self._policies.pop(bucket, None)
            else:
                self._policies[bucket] = policy

    def close(self) -> None:
        self.db.close()


def _malformed(message: str) -> MalformedPolicy:
    return MalformedPolicy(message)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def check_bucket_policy(text: str, bucket: str) -> None:
    """Refuse a policy S3 would refuse for this bucket, with S3's MalformedPolicy sentences."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise _malformed("Policies must be less than 20 KB in size.")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise _malformed("Policies must be valid JSON and the first byte must be '{'")
    raw = document.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements:
        raise _malformed("Missing required field Statement")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    for statement in statements:
        if not isinstance(statement, dict):
            raise _malformed("Policies must be valid JSON and the first byte must be '{'")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise _malformed(f"Invalid effect: {effect}")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise _malformed("Missing required field Principal")
        if "Resource" not in statement and "NotResource" not in statement:
            raise _malformed("Missing required field Resource")
        actions = _strings(statement.get("Action", statement.get("NotAction")))
        if not actions or any(a != "*" and not a.lower().startswith("s3:") for a in actions):
            raise _malformed("Policy has invalid action")
        resources = _strings(statement.get("Resource", statement.get("NotResource")))
        if not resources or any(r != bucket_arn and not r.startswith(bucket_arn + "/") for r in resources):
            raise _malformed("Policy has invalid resource")
        if "Action" in statement and "Resource" in statement and not _applies(actions, resources, bucket_arn):
            raise _malformed("Action does not apply to any resource(s) in statement")
    try:
        parse_policy(text, "resource")
    except MalformedPolicyDocument as exc:
        raise _malformed(exc.message) from exc


def _applies(actions: list[str], resources: list[str], bucket_arn: str) -> bool:
    """Whether some action of the statement acts on some of its resources (object vs bucket level)."""
    has_bucket = bucket_arn in resources
    has_object = any(r.startswith(bucket_arn + "/") for r in resources)
    for action in actions:
        if "*" in action or "?" in action:
            return True
        if _OBJECT_ACTION.fullmatch(action) and has_object:
            return True
        if not _OBJECT_ACTION.fullmatch(action) and has_bucket:
            return True
    return False


def is_public(text: str) -> bool:
    """S3's PolicyStatus.IsPublic: some Allow grants to everyone without a condition pinning the caller."""
    document = json.loads(text)
    raw = document.get("Statement")
    for statement in [raw] if isinstance(raw, dict) else raw:
        if statement.get("Effect") != "Allow" or "Principal" not in statement:
            continue
        principal = statement["Principal"]
        everyone = principal == "*" or (isinstance(principal, dict) and "*" in _strings(principal.get("AWS")))
        if not everyone:
            continue
        keys = {
            key.lower()
            for operator in (statement.get("Condition") or {}).values()
            if isinstance(operator, dict)
            for key in operator
        }
        if not keys & _PINNING_KEYS:
            return True
    return False


class BucketPolicies:
    """Mixed into the S3 service: the bucket policy operations."""

    store: ObjectStore
    policies: BucketPolicyStore

    @_translating
    def put_bucket_policy(self, ctx: RequestContext, params: Params) -> Output:
        bucket = params["Bucket"]
        self.store.get_bucket(bucket)
        check_bucket_policy(params["Policy"], bucket)
        self.policies.put(bucket, params["Policy"])
        return {}

    @_translating
    def get_bucket_policy(self, ctx: RequestContext, params: Params) -> Output:
        return {"Policy": self._policy(params["Bucket"])}

    @_translating
    def delete_bucket_policy(self, ctx: RequestContext, params: Params) -> Output:
        self.store.get_bucket(params["Bucket"])
        self.policies.put(params["Bucket"], None)
        return {}

    @_translating
    def get_bucket_policy_status(self, ctx: RequestContext, params: Params) -> Output:
        return {"PolicyStatus": {"IsPublic": is_public(self._policy(params["Bucket"]))}}

    def _policy(self, bucket: str) -> str:
        self.store.get_bucket(bucket)
        found = self.policies.get(bucket)
        if found is None:
            raise NoSuchBucketPolicy("The bucket policy does not exist", extra={"BucketName": bucket})
        return found
