"""Under `auth = "iam"`: what a session's customer managed key asks of the caller, as Bedrock's guide
"Session encryption" asks of whoever makes a session with a key.
CreateSession with `encryptionKeyArn` needs kms:GenerateDataKey on that key; every later call naming a keyed
session needs kms:Decrypt on it, with the encryption context `aws:bedrock:session:arn` = the session's ARN
(the condition key the guide's policy tests; at CreateSession, whose session id is made after authorization,
it is `arn:aws:bedrock:<region>:<account>:session/*`, which the guide's StringLike matches). The key's policy
decides with the caller's IAM policies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outcrop.services.bedrock_agent_runtime.session_store import CONTEXT_KEY, SessionStore

Needs = list[tuple[str, str, dict[str, list[str]]]]
Dependency = Callable[[str, dict[str, Any], str, str], Needs]


def session_key_needs(sessions: Callable[[], SessionStore], also: Dependency | None = None) -> Dependency:
    """The authorizer's dependency for session management (`sessions` opens the store), after `also`'s
    (the service's other dependency: agents' keys)."""

    def needs(operation: str, params: dict[str, Any], region: str, account: str) -> Needs:
        before = also(operation, params, region, account) if also is not None else []
        return before + _needs(operation, params, region, account)

    def _needs(operation: str, params: dict[str, Any], region: str, account: str) -> Needs:
        if operation == "CreateSession":  # the new session's id is made after authorization: its ARN is
            key = params.get(
                "encryptionKeyArn"
            )  # given as the account's `session/*`, which StringLike matches
            if not isinstance(key, str) or not key:
                return []
            arn = f"arn:aws:bedrock:{region}:{account}:session/*"
            return [("kms:GenerateDataKey", key, _context(arn))]
        named = params.get("sessionIdentifier") or params.get("resourceArn")
        if not isinstance(named, str) or not named:
            return []
        session_id = named.rsplit("/", 1)[-1]
        session = sessions().get(session_id, opened=False)
        if (
            session is None
            or session.kms_key is None
            or (session.account, session.region) != (account, region)
        ):
            return []
        return [("kms:Decrypt", session.kms_key, _context(session.arn))]

    return needs


def _context(arn: str) -> dict[str, list[str]]:
    return {f"kms:encryptioncontext:{CONTEXT_KEY}": [arn], "kms:encryptioncontextkeys": [CONTEXT_KEY]}
