"""The IAM policy language: a JSON document checked as IAM checks it, compiled once for fast evaluation.

Identity policies may not name a principal; resource and trust policies must. Errors are IAM's
`MalformedPolicyDocument` with IAM's own sentences, in the order IAM checks them (syntax, version,
resources' form, SID uniqueness, actions, resources).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from outcrop.iam.conditions import Condition, parse_conditions
from outcrop.iam.errors import MalformedPolicyDocument
from outcrop.iam.patterns import substitute, wildcard

Kind = Literal["identity", "resource", "trust"]
VERSIONS = ("2008-10-17", "2012-10-17")
_TOP = frozenset({"Version", "Id", "Statement"})
_STATEMENT = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
)
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "*")
_TRUST_ACTIONS = (
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:tagsession",
    "sts:setsourceidentity",
    "sts:*",
    "*",
)


@dataclass(frozen=True)
class Matcher:
    """A list of glob patterns, one regex; `negated` for NotAction/NotResource/NotPrincipal."""

    patterns: tuple[str, ...]
    negated: bool
    regex: re.Pattern[str] | None  # None when a pattern holds a policy variable (compiled per request)
    ignore_case: bool

    @classmethod
    def of(cls, patterns: tuple[str, ...], *, negated: bool, ignore_case: bool) -> Matcher:
        regex = None
        if not any("${" in p for p in patterns):
            joined = "|".join(wildcard(p, ignore_case=ignore_case).pattern for p in patterns)
            regex = re.compile(joined, (re.IGNORECASE if ignore_case else 0) | re.DOTALL)
        return cls(patterns, negated, regex, ignore_case)

    def matches(self, value: str, variables: Mapping[str, Sequence[str]] | None = None) -> bool:
        if self.regex is not None:
            found = self.regex.match(value) is not None
        else:
            found = any(
                wildcard(substitute(p, variables or {}), ignore_case=self.ignore_case).match(value)
                for p in self.patterns
            )
        return found != self.negated


@dataclass(frozen=True)
class Statement:
    sid: str
    allow: bool
    action: Matcher
    resource: Matcher | None  # None: a trust policy's statement, which names no resource
    principal: dict[str, tuple[str, ...]] | None  # type -> identifiers; {"*": ("*",)} is anyone
    not_principal: bool
    conditions: tuple[Condition, ...]

    @property
    def reads_context(self) -> bool:
        """Whether deciding this statement reads the request's context: a condition, or a policy
        variable in its Resource (Action never holds one that matters: it is matched without them)."""
        return bool(self.conditions) or (self.resource is not None and self.resource.regex is None)


@dataclass(frozen=True)
class Policy:
    document: str
    statements: tuple[Statement, ...]

    @property
    def size(self) -> int:
        return len(re.sub(r"\s", "", self.document))


def _strings(value: Any, *, allow_none: bool = False) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) or (allow_none and v is None) for v in value):
        return tuple(v for v in value if v is not None)
    raise ValueError("not a string or a list of strings")


def _syntax(text: str, kind: Kind) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Raise ValueError on anything IAM calls a syntax error."""
    document = json.loads(text)
    if not isinstance(document, dict) or set(document) - _TOP:
        raise ValueError("top level")
    if "Version" in document and document["Version"] not in VERSIONS:
        raise ValueError("version")
    if "Id" in document and not isinstance(document["Id"], str):
        raise ValueError("id")
    raw = document.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements:
        raise ValueError("statement")
    for statement in statements:
        if not isinstance(statement, dict) or set(statement) - _STATEMENT:
            raise ValueError("statement element")
        if ("Action" in statement and "NotAction" in statement) or (
            "Resource" in statement and "NotResource" in statement
        ):
            raise ValueError("both forms")
        if not isinstance(statement.get("Effect"), str) or statement["Effect"] not in ("Allow", "Deny"):
            raise ValueError("effect")
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in statement:
                _strings(statement[key], allow_none=True)
        if "Sid" in statement and not isinstance(statement["Sid"], str):
            raise ValueError("sid")
        if "Condition" in statement:
            parse_conditions(statement["Condition"])  # raises ValueError on a bad operator or value
    return document, statements


def _resource_error(resource: str, kind: Kind) -> str | None:
    if resource == "*":
        return None
    parts = resource.split(":", 5)
    if len(parts) < 2 or parts[0] != "arn":
        return f'Resource {resource} must be in ARN format or "*".'
    if parts[1] not in _PARTITIONS:
        rest = [*parts[2:], "*", "*", "*", "*"][:4]
        return f'Partition "{parts[1]}" is not valid for resource "arn:{parts[1]}:{":".join(rest)}".'
    if len(parts) < 3 or not parts[2] or any(c in parts[2] for c in "*?"):
        return "Resource vendor must be fully qualified and cannot contain regexes."
    if parts[2] == "iam" and len(parts) > 3 and parts[3] not in ("", "*"):
        return f"IAM resource {resource} cannot contain region information."
    if parts[2] == "s3" and len(parts) > 3 and parts[3] not in ("", "*"):
        return f"Resource {resource} can not contain region information."
    return None


def _principal(value: Any) -> dict[str, tuple[str, ...]]:
    if value == "*":
        return {"*": ("*",)}
    if not isinstance(value, dict) or not value:
        raise MalformedPolicyDocument("Invalid principal in policy")
    found: dict[str, tuple[str, ...]] = {}
    for kind, ids in value.items():
        if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
            raise MalformedPolicyDocument(f'Invalid principal in policy: "{kind}"')
        try:
            found[kind] = _strings(ids)
        except ValueError as exc:
            raise MalformedPolicyDocument("Invalid principal in policy") from exc
        for one in found[kind]:
            if kind == "AWS" and not (one == "*" or one.isdigit() or one.startswith("arn:")):
                raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{one}"')
    return found


def parse_policy(text: str, kind: Kind = "identity") -> Policy:
    """Check a policy document as IAM does and compile it; raise MalformedPolicyDocument otherwise."""
    try:
        document, raw = _syntax(text, kind)
    except (ValueError, TypeError) as exc:
        raise MalformedPolicyDocument("Syntax errors in policy.") from exc
    if document.get("Version") != "2012-10-17" and kind == "identity":
        raise MalformedPolicyDocument("Policy document must be version 2012-10-17 or greater.")
    resource_error = None
    for statement in raw:
        for key in ("Resource", "NotResource"):
            for resource in sorted(_strings(statement.get(key, []), allow_none=True), reverse=True):
                resource_error = resource_error or _resource_error(resource, kind)
    sids = [s["Sid"] for s in raw if s.get("Sid")]
    if len(sids) != len(set(sids)):
        raise MalformedPolicyDocument("Statement IDs (SID) in a single policy must be unique.")
    for statement in raw:
        actions = _strings(statement.get("Action", statement.get("NotAction", [])), allow_none=True)
        if not actions:
            raise MalformedPolicyDocument("Policy statement must contain actions.")
    if resource_error:
        raise MalformedPolicyDocument(resource_error)
    for statement in raw:
        for action in _strings(statement.get("Action", statement.get("NotAction", [])), allow_none=True):
            _check_action(action)
    return Policy(text, tuple(_statement(s, kind) for s in raw))


def _check_action(action: str) -> None:
    if action == "*":
        return
    vendor, colon, name = action.partition(":")
    if not colon:
        raise MalformedPolicyDocument(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
        )
    if ":" in name:
        raise MalformedPolicyDocument("Actions/Condition can contain only one colon.")
    if not re.fullmatch(r"[a-zA-Z0-9-]+", vendor):
        raise MalformedPolicyDocument(f"Vendor {vendor} is not valid")


def _statement(raw: dict[str, Any], kind: Kind) -> Statement:
    has_resource = "Resource" in raw or "NotResource" in raw
    if kind == "identity":
        if "Principal" in raw or "NotPrincipal" in raw:
            raise MalformedPolicyDocument("Policy document should not specify a principal.")
        if not has_resource or not _strings(raw.get("Resource", raw.get("NotResource")), allow_none=True):
            raise MalformedPolicyDocument("Policy statement must contain resources.")
    elif "Principal" not in raw and "NotPrincipal" not in raw:
        raise MalformedPolicyDocument("Missing required field Principal")
    if kind == "trust":
        if has_resource:
            raise MalformedPolicyDocument("Has prohibited field Resource.")
        for action in _strings(raw.get("Action", raw.get("NotAction", [])), allow_none=True):
            if action.lower() not in _TRUST_ACTIONS:
                raise MalformedPolicyDocument(
                    "Trust Policy statement actions can only be sts:AssumeRole, "
                    "sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"
                )
    negated_action = "NotAction" in raw
    actions = _strings(raw["NotAction" if negated_action else "Action"], allow_none=True)
    resource = None
    if has_resource:
        negated = "NotResource" in raw
        resource = Matcher.of(
            _strings(raw["NotResource" if negated else "Resource"], allow_none=True),
            negated=negated,
            ignore_case=False,
        )
    principal = None
    if "Principal" in raw or "NotPrincipal" in raw:
        principal = _principal(raw.get("Principal", raw.get("NotPrincipal")))
    return Statement(
        sid=raw.get("Sid", ""),
        allow=raw["Effect"] == "Allow",
        action=Matcher.of(actions, negated=negated_action, ignore_case=True),
        resource=resource,
        principal=principal,
        not_principal="NotPrincipal" in raw,
        conditions=parse_conditions(raw.get("Condition", {})),
    )
