"""Which IAM action and resource ARN each served operation is authorized as (see `action_table`).

A rule is the action's name within the service's IAM prefix ("" when it is the operation's own name) and a
resource template: `*`, or an ARN with `{R}` (the request's region), `{A}` (the account) and `{Member}`
fields read from the parsed input (`{Member|lower}` lower-cases, as SageMaker's ARNs are; `{@model:Member}`
is a Bedrock model id as the foundation-model, inference-profile or custom ARN it names; `{@kms:Member}`
a KMS key id, key ARN, alias name or alias ARN as its ARN). When a field's
value is itself an ARN, the ARN the caller gave is the resource; when an optional member is absent, the
resource is `*`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from outcrop.iam.action_table import PREFIXES, RULES
from outcrop.kms.crypto import CiphertextError, read_header

_FIELD = re.compile(r"\{([^}]+)\}")
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca.")


class Target(NamedTuple):  # a tuple: made for every request, and cheaper to make than a dataclass
    action: str  # e.g. "bedrock:InvokeModel"
    resource: str  # an ARN, or "*"


class Unmapped(LookupError):
    """An operation with no rule: a gap in the table, which the coverage test reports."""


def bedrock_model(model_id: str, region: str, account: str) -> str:
    """The ARN a Bedrock model id stands for, as Bedrock authorizes it."""
    if model_id.startswith("arn:"):
        return model_id
    if model_id.startswith(_PROFILE_PREFIXES):
        return f"arn:aws:bedrock:{region}:{account}:inference-profile/{model_id}"
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def _value(params: Mapping[str, Any], path: str) -> str | None:
    if "." not in path:  # most templates name a top-level member
        found = params.get(path)
        return str(found) if isinstance(found, (str, int)) else None
    value: Any = params
    for part in path.split("."):
        if not isinstance(value, Mapping) or value.get(part) is None:
            return None
        value = value[part]
    return str(value) if isinstance(value, str | int) else None


@lru_cache(maxsize=4096)
def _pieces(template: str) -> tuple[tuple[str, str, str, str], ...]:
    """A resource template read once: (literal text, then the field after it as its special kind
    ("@model", "@kms", "R", "A" or ""), member path and modifier); the last piece has no member."""
    pieces, last = [], 0
    for m in _FIELD.finditer(template):
        name = m.group(1)
        special, _, member = name.partition(":") if name.startswith("@") else ("", "", name)
        if name in ("R", "A"):
            special, member = name, ""
        member, _, modifier = member.partition("|")
        pieces.append((template[last : m.start()], special, member, modifier))
        last = m.end()
    pieces.append((template[last:], "", "", ""))
    return tuple(pieces)


def resolve(template: str, params: Mapping[str, Any], region: str, account: str) -> str:
    """A rule's resource for one request (see the module docstring)."""
    if template == "*":
        return "*"
    given_arn: str | None = None
    missing = False
    parts: list[str] = []
    for literal, special, member, modifier in _pieces(template):
        parts.append(literal)
        if special == "R":
            parts.append(region)
            continue
        if special == "A":
            parts.append(account)
            continue
        if not member:
            continue
        value = _value(params, member)
        if value is None:
            missing = True
            continue
        if special == "@model":
            given_arn = given_arn or bedrock_model(value, region, account)
        elif special == "@kms":
            kind = "" if value.startswith(("arn:", "alias/")) else "key/"
            given_arn = given_arn or (
                value if value.startswith("arn:") else f"arn:aws:kms:{region}:{account}:{kind}{value}"
            )
        if value.startswith("arn:"):
            given_arn = given_arn or value
        parts.append(value.lower() if modifier == "lower" else value)
    if given_arn is not None:
        return given_arn
    return "*" if missing else "".join(parts)


def target(service: str, operation: str, params: Mapping[str, Any], region: str, account: str) -> Target:
    """The IAM action and resource ARN one request is authorized as."""
    rules = RULES.get(service)
    rule = rules.get(operation) if rules is not None else None
    if rule is None:
        raise Unmapped(f"{service} {operation} has no IAM action mapped")
    action, template = rule
    resource = resolve(template, params, region, account)
    if service == "kms" and operation == "Decrypt" and resource == "*":
        resource = _ciphertext_key(params, region, account)
    return Target(f"{PREFIXES[service]}:{action or operation}", resource)


def _ciphertext_key(params: Mapping[str, Any], region: str, account: str) -> str:
    """Decrypt without KeyId is authorized on the key its (symmetric) ciphertext names, as in KMS,
    so that key's policy and grants decide; a blob that names none stays `*` (and fails to decrypt)."""
    blob = params.get("CiphertextBlob")
    if not isinstance(blob, bytes | bytearray):
        return "*"
    try:
        key_id = read_header(bytes(blob)).key_id
    except CiphertextError:
        return "*"
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def request_keys(service: str, params: Mapping[str, Any]) -> dict[str, list[str]]:
    """Service condition keys read from the input (lower-case names, as conditions read them)."""
    keys: dict[str, list[str]] = {}
    if service == "s3":
        for member, key in (
            ("Prefix", "s3:prefix"),
            ("Delimiter", "s3:delimiter"),
            ("MaxKeys", "s3:max-keys"),
        ):
            if params.get(member) is not None:
                keys[key] = [str(params[member])]
    if service == "sts":  # the keys a role's trust policy may test on AssumeRole
        for member, key in (
            ("ExternalId", "sts:externalid"),
            ("RoleSessionName", "sts:rolesessionname"),
            ("SourceIdentity", "sts:sourceidentity"),
        ):
            if params.get(member):
                keys[key] = [str(params[member])]
        if params.get("TransitiveTagKeys"):
            keys["sts:transitivetagkeys"] = [str(k) for k in params["TransitiveTagKeys"]]
    if service == "kms":  # what key policies and grant constraints test
        context = params.get("EncryptionContext") or params.get("DestinationEncryptionContext")
        if isinstance(context, Mapping) and context:
            for key, value in context.items():
                keys[f"kms:encryptioncontext:{str(key).lower()}"] = [str(value)]
            keys["kms:encryptioncontextkeys"] = [str(k) for k in context]
    if service == "iam" and params.get("PermissionsBoundary"):
        keys["iam:permissionsboundary"] = [str(params["PermissionsBoundary"])]
    tags = params.get("Tags")
    if isinstance(tags, list) and all(isinstance(t, Mapping) and "Key" in t for t in tags):
        tags = {str(t["Key"]): str(t.get("Value") or "") for t in tags}
    elif isinstance(tags, list) and all(isinstance(t, Mapping) and "TagKey" in t for t in tags):  # KMS
        tags = {str(t["TagKey"]): str(t.get("TagValue") or "") for t in tags}
    if isinstance(tags, Mapping) and tags:  # the tags a request attaches (a list of Key/Value, or a map)
        for key, value in tags.items():
            keys[f"aws:requesttag/{str(key).lower()}"] = [str(value)]
        keys["aws:tagkeys"] = [str(k) for k in tags]
    return keys
