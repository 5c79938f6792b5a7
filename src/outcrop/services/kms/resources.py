"""KMS's named things around a key: aliases, grants and tags (a part of the `kms` service)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from outcrop.kms.keys import ALIAS_NAME, Keyring
from outcrop.kms.store import GrantRecord, KeyRecord
from outcrop.protocol.errors import AccessDeniedException
from outcrop.services.base import RequestContext, Service
from outcrop.services.kms.errors import (
    AlreadyExistsException,
    InvalidAliasNameException,
    InvalidGrantIdException,
    InvalidGrantTokenException,
    InvalidMarkerException,
    KmsValidationException,
    NotFoundException,
    answering_kms_errors,
)
from outcrop.services.kms.options import dry_run
from outcrop.services.paging import Pager

T = TypeVar("T")
PAGER = Pager(
    InvalidMarkerException, "Invalid marker.", default=100, maximum=1000, token="Marker", size="Limit"
)
RESERVED_PREFIX = "alias/aws/"


@answering_kms_errors
class KmsResources(Service):
    keys: Keyring

    # -- aliases ------------------------------------------------------------------------------------------

    def create_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = self._alias_name(params["AliasName"])
        key = self._target(ctx, params["TargetKeyId"])
        if not self.keys.store.put_alias(ctx.account_id, ctx.region, name, key.key_id, time.time(), new=True):
            arn = ctx.arn("kms", name)
            raise AlreadyExistsException(f"An alias with the name {arn} already exists")
        return {}

    def update_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = self._existing_alias_name(ctx, params["AliasName"])
        key = self._target(ctx, params["TargetKeyId"], update=True)
        current = self.keys.store.alias(ctx.account_id, ctx.region, name)
        old = self.keys.store.key(current.key_id) if current is not None else None
        if old is not None and (_kind(old.key_spec), old.key_usage) != (_kind(key.key_spec), key.key_usage):
            raise KmsValidationException(
                f"Alias {name} points at a {_kind(old.key_spec)} {old.key_usage} key and {key.arn} is a "
                f"{_kind(key.key_spec)} {key.key_usage} key: an alias moves only between keys of the same "
                "type and key usage (delete the alias and create it again instead)."
            )
        if not self.keys.store.put_alias(
            ctx.account_id, ctx.region, name, key.key_id, time.time(), new=False
        ):
            raise NotFoundException(f"Alias {ctx.arn('kms', name)} is not found.")
        return {}

    def delete_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = self._existing_alias_name(ctx, params["AliasName"])
        if not self.keys.store.delete_alias(ctx.account_id, ctx.region, name):
            raise NotFoundException(f"Alias {ctx.arn('kms', name)} is not found.")
        return {}

    def list_aliases(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key_id = None
        if params.get("KeyId"):
            key_id = self.keys.resolve(ctx.account_id, ctx.region, params["KeyId"], aliases=False).key_id
        aliases = self.keys.store.aliases(ctx.account_id, ctx.region, key_id)
        page, marker = self._page(aliases, params)
        return {
            "Aliases": [
                {
                    "AliasName": alias.name,
                    "AliasArn": ctx.arn("kms", alias.name),
                    "TargetKeyId": alias.key_id,
                    "CreationDate": datetime.fromtimestamp(alias.created, UTC),
                    "LastUpdatedDate": datetime.fromtimestamp(alias.updated, UTC),
                }
                for alias in page
            ],
            "Truncated": marker is not None,
            "NextMarker": marker,
        }

    # -- grants -------------------------------------------------------------------------------------------

    def create_grant(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The grantee is an IAM principal (GranteePrincipal) or an AWS service principal
        (GranteeServicePrincipal, which KMS requires to come with a SourceArn constraint and a
        retiring principal); either kind may retire it (RetiringPrincipal/RetiringServicePrincipal)."""
        key = self.keys.resolve(ctx.account_id, ctx.region, params["KeyId"], aliases=False)
        if key.state == "PendingDeletion":
            self.keys.set_enabled(key, True)  # raises KMSInvalidStateException, as KMS answers
        grantee, retiring = _grant_principals(params)
        dry_run(params)
        grant_id = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        grant = GrantRecord(
            grant_id=grant_id,
            key_id=key.key_id,
            token=secrets.token_urlsafe(96),
            name=params.get("Name"),
            grantee=grantee,
            retiring=retiring,
            operations=list(params["Operations"]),
            constraints=params.get("Constraints"),
            issuing=f"arn:aws:iam::{ctx.account_id}:root",
            created=time.time(),
        )
        self.keys.store.insert_grant(grant)
        return {"GrantToken": grant.token, "GrantId": grant.grant_id}

    def list_grants(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self.keys.resolve(ctx.account_id, ctx.region, params["KeyId"], aliases=False)
        grants = [
            grant
            for grant in self.keys.store.grants(key.key_id)
            if params.get("GrantId") in (None, grant.grant_id)
            and params.get("GranteePrincipal") in (None, grant.grantee)
            and params.get("GranteeServicePrincipal") in (None, grant.grantee)
        ]
        page, marker = self._page(grants, params)
        return {
            "Grants": [_grant(grant) for grant in page],
            "Truncated": marker is not None,
            "NextMarker": marker,
        }

    def revoke_grant(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self.keys.resolve(ctx.account_id, ctx.region, params["KeyId"], aliases=False)
        if not any(g.grant_id == params["GrantId"] for g in self.keys.store.grants(key.key_id)):
            raise NotFoundException(f"Grant ID {params['GrantId']} not found")
        dry_run(params)
        self.keys.store.delete_grant(key.key_id, params["GrantId"])
        return {}

    def retire_grant(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("GrantToken"):
            grant = self.keys.store.grant_by_token(params["GrantToken"])
            if grant is None:
                raise InvalidGrantTokenException("The grant token is not valid.")
            dry_run(params)
            self.keys.store.delete_grant(grant.key_id, grant.grant_id)
            return {}
        if not (params.get("KeyId") and params.get("GrantId")):
            raise InvalidGrantTokenException("Either GrantToken, or both KeyId and GrantId, must be given.")
        key = self.keys.resolve(ctx.account_id, ctx.region, params["KeyId"], aliases=False)
        if not any(g.grant_id == params["GrantId"] for g in self.keys.store.grants(key.key_id)):
            raise InvalidGrantIdException(f"Grant ID {params['GrantId']} not found")
        dry_run(params)
        self.keys.store.delete_grant(key.key_id, params["GrantId"])
        return {}

    # -- tags ---------------------------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self.keys.resolve(ctx.account_id, ctx.region, params["KeyId"], aliases=False)
        self.keys.store.tag(key.key_id, {tag["TagKey"]: tag["TagValue"] for tag in params["Tags"]})
        return {}

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self.keys.resolve(ctx.account_id, ctx.region, params["KeyId"], aliases=False)
        self.keys.store.untag(key.key_id, list(params["TagKeys"]))
        return {}

    def list_resource_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self.keys.resolve(ctx.account_id, ctx.region, params["KeyId"], aliases=False)
        tags = list(self.keys.store.tags(key.key_id).items())
        page, marker = self._page(tags, params)
        return {
            "Tags": [{"TagKey": k, "TagValue": v} for k, v in page],
            "Truncated": marker is not None,
            "NextMarker": marker,
        }

    # -- helpers ------------------------------------------------------------------------------------------

    @staticmethod
    def _page(items: Sequence[T], params: dict[str, Any]) -> tuple[list[T], str | None]:
        return PAGER.page(items, params)

    @staticmethod
    def _alias_name(name: str) -> str:
        if not name.startswith("alias/"):
            raise InvalidAliasNameException('Alias must start with the prefix "alias/".')
        if name.startswith(RESERVED_PREFIX):
            raise InvalidAliasNameException(
                f"Alias {name} cannot begin with the prefix {RESERVED_PREFIX}: "
                "it is reserved for AWS managed keys."
            )
        if not ALIAS_NAME.match(name):
            raise InvalidAliasNameException(f"Alias {name} contains characters other than [a-zA-Z0-9/_-].")
        return name

    @staticmethod
    def _existing_alias_name(ctx: RequestContext, name: str) -> str:
        """UpdateAlias and DeleteAlias act on an existing customer alias, and model no InvalidAliasName: a
        name no customer alias can have is not found, and an AWS managed alias is not the caller's to
        change."""
        if name.startswith(RESERVED_PREFIX):
            raise AccessDeniedException(
                f"Alias {ctx.arn('kms', name)} belongs to an AWS managed key: the {RESERVED_PREFIX} prefix "
                "is reserved for AWS, and its aliases cannot be changed or deleted."
            )
        if not ALIAS_NAME.match(name):
            raise NotFoundException(f"Alias {ctx.arn('kms', name)} is not found.")
        return name

    def _target(self, ctx: RequestContext, ref: str, *, update: bool = False) -> KeyRecord:
        """An alias points at a customer managed key named by id or ARN, never at another alias."""
        key = self.keys.resolve(ctx.account_id, ctx.region, ref, aliases=False)
        if key.manager == "AWS" and update:  # UpdateAlias models no InvalidAliasName; AWS says permission
            raise AccessDeniedException(
                f"{key.arn} is an AWS managed key: you don't have permission to associate an alias with it."
            )
        if key.manager == "AWS":
            raise InvalidAliasNameException(f"{key.arn} is an AWS managed key: its alias is AWS's.")
        if key.state == "PendingDeletion":
            self.keys.set_enabled(key, True)  # raises KMSInvalidStateException
        return key


def _service_principal(principal: str | None) -> bool:
    """An AWS service principal (`logs.amazonaws.com`), as opposed to an IAM principal's ARN or account."""
    return bool(principal) and not str(principal).startswith("arn:") and "." in str(principal)


def _grant_principals(params: dict[str, Any]) -> tuple[str, str | None]:
    """CreateGrant's grantee and retiring principal, checked as KMS checks them."""
    grantee, service = params.get("GranteePrincipal"), params.get("GranteeServicePrincipal")
    if bool(grantee) == bool(service):
        raise KmsValidationException(
            "You must specify either GranteePrincipal or GranteeServicePrincipal, but not both."
        )
    retiring, retiring_service = params.get("RetiringPrincipal"), params.get("RetiringServicePrincipal")
    if retiring and retiring_service:
        raise KmsValidationException(
            "You can specify either RetiringPrincipal or RetiringServicePrincipal, but not both."
        )
    for value in (service, retiring_service):
        if value and not _service_principal(value):
            raise KmsValidationException(f"{value} is not an AWS service principal.")
    if service:
        if not (params.get("Constraints") or {}).get("SourceArn"):
            raise KmsValidationException(
                "A grant for a GranteeServicePrincipal requires a SourceArn grant constraint."
            )
        if not (retiring or retiring_service):
            raise KmsValidationException(
                "A grant for a GranteeServicePrincipal requires a RetiringPrincipal or "
                "RetiringServicePrincipal."
            )
    return str(grantee or service), retiring or retiring_service


def _grant(grant: GrantRecord) -> dict[str, Any]:
    grantee = "GranteeServicePrincipal" if _service_principal(grant.grantee) else "GranteePrincipal"
    retiring = "RetiringServicePrincipal" if _service_principal(grant.retiring) else "RetiringPrincipal"
    return {
        "KeyId": grant.key_id,
        "GrantId": grant.grant_id,
        "Name": grant.name,
        "CreationDate": datetime.fromtimestamp(grant.created, UTC),
        grantee: grant.grantee,
        retiring: grant.retiring,
        "IssuingAccount": grant.issuing,
        "Operations": grant.operations,
        "Constraints": grant.constraints,
    }


def _kind(spec: str) -> str:
    """A key's type for UpdateAlias's rule: symmetric, asymmetric or HMAC."""
    if spec == "SYMMETRIC_DEFAULT":
        return "symmetric"
    return "HMAC" if spec.startswith("HMAC") else "asymmetric"
