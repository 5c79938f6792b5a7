"""An answered API call as a CloudTrail event record, with what must not be logged left out.

Secrets (secret keys, session tokens, passwords, KMS plaintext) read HIDDEN_DUE_TO_SECURITY_REASONS, as
CloudTrail writes them; bodies, prompts and messages (object bytes, model input) are left out, and so are
binary values. Response elements are kept for writes only, and only where the answer is JSON.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from outcrop.protocol.calls import ApiCall
from outcrop.protocol.router import service_model

EVENT_VERSION = "1.11"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
_SECRET = re.compile(r"secret|password|passphrase|sessiontoken|privatekey|plaintext|apikey|granttoken", re.I)
_CONTENT = frozenset(
    {
        "body",
        "messages",
        "system",
        "prompt",
        "inputtext",
        "text",
        "content",
        "document",
        "image",
        "audio",
        "media",
        "logevents",  # CloudWatch Logs event messages: data, kept out of the audit log as AWS does
    }
)
_READ_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Head",
    "Lookup",
    "Search",
    "Retrieve",
    "Query",
    "Scan",
    "Select",
    "Check",
    "Detect",
    "BatchGet",
    "Simulate",
    "Validate",
    "Test",
    "Estimate",
    "Filter",  # FilterLogEvents: a read, whose events stay out of the audit log
)
_READ_ONLY = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateRandom",
        "Converse",
        "ConverseStream",
        "InvokeModel",
        "InvokeModelWithResponseStream",
        "ApplyGuardrail",
        "CountTokens",
        "RetrieveAndGenerate",
        "Translate",
        "TranslateText",
        "SynthesizeSpeech",
        "InvokeEndpoint",
    }
)
# S3's object-level calls and Lambda's Invoke are data events: recorded, but not management events.
_DATA_EVENTS = {
    "s3": frozenset(
        {
            "GetObject",
            "PutObject",
            "HeadObject",
            "DeleteObject",
            "DeleteObjects",
            "CopyObject",
            "ListObjects",
            "ListObjectsV2",
            "GetObjectTagging",
            "PutObjectTagging",
            "DeleteObjectTagging",
            "CreateMultipartUpload",
            "UploadPart",
            "UploadPartCopy",
            "CompleteMultipartUpload",
            "AbortMultipartUpload",
            "ListParts",
            "GetObjectAttributes",
        }
    ),
    "lambda": frozenset({"Invoke", "InvokeWithResponseStream", "InvokeAsync"}),
}
_RESOURCE_TYPES = {("kms", "KeyId"): "AWS::KMS::Key", ("s3", "Bucket"): "AWS::S3::Bucket"}


@dataclass(frozen=True)
class Identity:
    kind: str  # Root, IAMUser, AssumedRole
    principal_id: str
    arn: str
    account: str
    username: str
    session_issuer: str = ""  # an assumed role's role ARN


def build(call: ApiCall, account: str, identity: Identity) -> dict[str, Any]:
    read_only = _read_only(call.operation)
    management = call.operation not in _DATA_EVENTS.get(call.service, frozenset())
    user: dict[str, Any] = {
        "type": identity.kind,
        "principalId": identity.principal_id,
        "arn": identity.arn,
        "accountId": identity.account,
        "accessKeyId": call.access_key if call.access_key != "anonymous" else "",
    }
    if identity.kind == "IAMUser":
        user["userName"] = identity.username
    if identity.session_issuer:
        user["sessionContext"] = {"sessionIssuer": {"type": "Role", "arn": identity.session_issuer}}
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user,
        "eventTime": datetime.fromtimestamp(call.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": f"{_source(call.service)}.amazonaws.com",
        "eventName": call.operation,
        "awsRegion": call.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
        "requestParameters": redact(call.params, _shape(call.service, call.operation, "input")) or None,
        "responseElements": None,
        "requestID": call.request_id,
        "eventID": str(uuid.uuid4()),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": management,
        "recipientAccountId": account,
        "eventCategory": "Management" if management else "Data",
    }
    if call.status >= 400:
        record["errorCode"] = call.headers.get("x-amzn-errortype") or str(call.status)
        record["errorMessage"] = _error_message(call.body)
    elif not read_only and call.body and "json" in call.headers.get("content-type", ""):
        with contextlib.suppress(ValueError):
            output = _shape(call.service, call.operation, "output")
            record["responseElements"] = redact(json.loads(call.body), output) or None
    record["_index"] = {"time": call.at, "username": identity.username}
    record["_resources"] = _resources(call.service, call.params, record["responseElements"])
    return record


def redact(value: Any, shape: Shape | None = None) -> Any:
    """Parameters as CloudTrail logs them: lower camel case names, secrets (and every member the service's
    model marks sensitive, such as an agent's instruction) hidden, bodies and bytes out."""
    if isinstance(value, dict):
        members = shape.members if isinstance(shape, StructureShape) else {}
        out: dict[str, Any] = {}
        for name, item in value.items():
            if not isinstance(name, str) or name.lower() in _CONTENT or isinstance(item, bytes | bytearray):
                continue
            member = members.get(name) or (shape.value if isinstance(shape, MapShape) else None)
            sensitive = member is not None and bool(member.metadata.get("sensitive"))
            if (sensitive or _SECRET.search(name)) and item is not None:
                out[name[:1].lower() + name[1:]] = HIDDEN
                continue
            kept = redact(item, member)
            if kept is not _SKIP:
                out[name[:1].lower() + name[1:]] = kept
        return out
    if isinstance(value, list):
        inner = shape.member if isinstance(shape, ListShape) else None
        if inner is not None and inner.metadata.get("sensitive"):
            return [HIDDEN for _ in value]
        return [item for item in (redact(v, inner) for v in value) if item is not _SKIP]
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return _SKIP  # streams and other bytes-like values


_SKIP: Any = object()


def _shape(service: str, operation: str, which: str) -> Shape | None:
    """The operation's input or output shape in the service's model (None where it models none)."""
    try:
        model = service_model(service).operation_model(operation)
    except Exception:  # an operation the model does not know: names alone decide what is hidden
        return None
    shape: Shape | None = model.input_shape if which == "input" else model.output_shape
    return shape


@cache
def _source(service: str) -> str:
    metadata = service_model(service).metadata
    return str(metadata.get("signingName") or metadata.get("endpointPrefix") or service)


def _read_only(operation: str) -> bool:
    return operation in _READ_ONLY or operation.startswith(_READ_PREFIXES)


def _error_message(body: bytes | None) -> str:
    if not body:
        return ""
    text = body[:8192].decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
            return str(data.get("message") or data.get("Message") or "")
        except ValueError:
            return ""
    found = re.search(r"<Message>(.*?)</Message>", text, re.S)
    return found.group(1) if found else ""


def _resources(service: str, params: dict[str, Any], response: Any) -> list[tuple[str | None, str]]:
    """The resources a call names (its *Name, *Id, *Arn and Bucket parameters, and those of what a write
    answered, one level down), for LookupEvents' ResourceName."""
    found: dict[str, str | None] = {}
    sources = [params]
    if isinstance(response, dict):
        sources += [response, *(v for v in response.values() if isinstance(v, dict))]
    for source in sources:
        for name, value in source.items():
            upper = name[:1].upper() + name[1:]
            named = upper.endswith(("Name", "Id", "Arn", "Identifier")) or upper == "Bucket"
            if isinstance(value, str) and value and named and value not in found:
                found[value] = _RESOURCE_TYPES.get((service, upper))
    return [(kind, name) for name, kind in list(found.items())[:10]]
