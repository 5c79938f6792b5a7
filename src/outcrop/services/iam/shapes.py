"""The store's records as IAM's output shapes, and IAM's Marker/MaxItems paging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from outcrop.iam.errors import InvalidInput
from outcrop.services.paging import Pager

T = TypeVar("T")

PAGER = Pager(InvalidInput, "Invalid Marker.", default=100, maximum=1000, token="Marker", size="MaxItems")


def when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def document(text: str) -> str:
    """IAM answers policy documents URL-encoded (SDKs decode them)."""
    return quote(text, safe="")


def page(items: Sequence[T], params: Mapping[str, Any], member: str) -> dict[str, Any]:
    found, marker = PAGER.page(items, params)
    out: dict[str, Any] = {member: found, "IsTruncated": marker is not None}
    if marker is not None:
        out["Marker"] = marker
    return out


def detail(out: dict[str, Any], record: Mapping[str, Any], tags: Mapping[str, str] | None) -> dict[str, Any]:
    """GetUser/GetRole (and the Create answers) add the boundary and tags; the List operations do not."""
    if tags is None:
        return out
    if record.get("boundary"):
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": record["boundary"],
        }
    if tags:
        out["Tags"] = tag_list(tags)
    return out


def user(record: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    out = {
        "Path": record["path"],
        "UserName": record["name"],
        "UserId": record["id"],
        "Arn": record["arn"],
        "CreateDate": when(record["created"]),
    }
    return detail(out, record, tags)


def group(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Path": record["path"],
        "GroupName": record["name"],
        "GroupId": record["id"],
        "Arn": record["arn"],
        "CreateDate": when(record["created"]),
    }


def role(record: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    out = {
        "Path": record["path"],
        "RoleName": record["name"],
        "RoleId": record["id"],
        "Arn": record["arn"],
        "CreateDate": when(record["created"]),
        "AssumeRolePolicyDocument": document(record["trust"]),
        "MaxSessionDuration": record["max_session"],
    }
    if record["description"]:
        out["Description"] = record["description"]
    return detail(out, record, tags)


def policy(record: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    out = {
        "PolicyName": record["name"],
        "PolicyId": record["id"],
        "Arn": record["arn"],
        "Path": record["path"],
        "DefaultVersionId": record["default_version"],
        "AttachmentCount": record["attachments"],
        "PermissionsBoundaryUsageCount": record.get("boundary_uses", 0),
        "IsAttachable": True,
        "CreateDate": when(record["created"]),
        "UpdateDate": when(record["updated"]),
    }
    if record["description"]:
        out["Description"] = record["description"]
    if tags:
        out["Tags"] = tag_list(tags)
    return out


def version(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Document": document(record["document"]),
        "VersionId": record["version"],
        "IsDefaultVersion": record["default"],
        "CreateDate": when(record["created"]),
    }


def access_key(record: Mapping[str, Any], *, secret: bool = False) -> dict[str, Any]:
    out = {
        "UserName": record["user"],
        "AccessKeyId": record["id"],
        "Status": record["status"],
        "CreateDate": when(record["created"]),
    }
    if secret:
        out["SecretAccessKey"] = record["secret"]
    return out


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]
