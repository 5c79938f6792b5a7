"""Bedrock's guardrail operations (CreateGuardrail ... CreateGuardrailVersion, and tags on a guardrail ARN):
the API's shapes around `outcrop.guardrails`' store and policy checks. The `Bedrock` service's methods hand
their input here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from outcrop.guardrails.guardrails import NOT_FOUND, Guardrails, check_identifier
from outcrop.guardrails.policies import POLICY_CONFIGS, build_policies
from outcrop.guardrails.store import DRAFT, Definition, NameTaken, StoredVersion, guardrail_id
from outcrop.protocol.errors import ConflictException, ResourceNotFoundException, ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.bedrock.profiles import MAX_TAGS, TooManyTagsException, geos_of
from outcrop.services.paging import Pager

_PAGES = Pager(
    ValidationException, "The nextToken is not valid.", default=1000, token="nextToken", size="maxResults"
)
_PROFILE_VERSIONS = ("v1:0",)  # the guardrail profile versions AWS offers


def is_guardrail_arn(arn: str) -> bool:
    return arn.startswith("arn:") and ":guardrail/" in arn


def _time(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def _tags(items: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    return [(str(item["key"]), str(item["value"])) for item in items or []]


class GuardrailsControl:
    def __init__(self, guardrails: Guardrails) -> None:
        self.guardrails = guardrails
        self.store = guardrails.store

    # -- reading requests ------------------------------------------------------------------------------------

    def _cross_region(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """crossRegionDetails for a guardrail profile of the caller's geo (evaluation is local either way);
        a profile of another geo or version is not served here."""
        config = params.get("crossRegionConfig")
        if not config:
            return {}
        identifier = config["guardrailProfileIdentifier"]
        profile_id = (
            identifier.rpartition("guardrail-profile/")[2] if identifier.startswith("arn:") else identifier
        )
        geo, _, rest = profile_id.partition(".guardrail.")
        if geo not in geos_of(ctx.region) or rest not in _PROFILE_VERSIONS:
            raise ValidationException(
                f"The guardrail profile {identifier} is not served in {ctx.region} by this server. Use "
                + " or ".join(f"{g}.guardrail.v1:0" for g in sorted(geos_of(ctx.region)))
                + "."
            )
        arn = ctx.arn("bedrock", f"guardrail-profile/{profile_id}")
        return {"crossRegionDetails": {"guardrailProfileId": profile_id, "guardrailProfileArn": arn}}

    def _definition(self, ctx: RequestContext, params: dict[str, Any]) -> Definition:
        if params.get("kmsKeyId"):
            raise ValidationException(
                "kmsKeyId is not supported by this server: it has no KMS keys to encrypt guardrails with."
            )
        return Definition(
            name=params["name"],
            description=params.get("description"),
            blocked_input=params["blockedInputMessaging"],
            blocked_outputs=params["blockedOutputsMessaging"],
            policies=build_policies(params),
            extra=self._cross_region(ctx, params),
        )

    def _owned(self, ctx: RequestContext, identifier: str, version: str = DRAFT) -> StoredVersion:
        check_identifier(identifier, version)
        stored = self.store.get(identifier, version)
        if (
            stored is None
            or (stored.account, stored.region) != (ctx.account_id, ctx.region)
            or (identifier.startswith("arn:") and identifier != stored.arn)
        ):
            raise ResourceNotFoundException(NOT_FOUND)
        return stored

    # -- operations ------------------------------------------------------------------------------------------

    def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        definition = self._definition(ctx, params)
        tags = _tags(params.get("tags"))
        if len(tags) > MAX_TAGS:
            raise TooManyTagsException(f"A resource can have at most {MAX_TAGS} tags.")
        try:
            stored, _ = self.store.create(
                account=ctx.account_id,
                region=ctx.region,
                definition=definition,
                client_token=params.get("clientRequestToken"),
                tags=tags,
            )
        except NameTaken:
            raise ConflictException(f"A guardrail with the name {params['name']} already exists.") from None
        return {
            "guardrailId": stored.guardrail_id,
            "guardrailArn": stored.arn,
            "version": DRAFT,
            "createdAt": _time(stored.created),
        }

    def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._owned(ctx, params["guardrailIdentifier"], params.get("guardrailVersion") or DRAFT)
        definition = stored.definition
        described: dict[str, Any] = {
            "name": definition.name,
            "guardrailId": stored.guardrail_id,
            "guardrailArn": stored.arn,
            "version": stored.version,
            "status": "READY",
            **definition.policies,
            **definition.extra,
            "createdAt": _time(stored.created),
            "updatedAt": _time(stored.updated),
            "blockedInputMessaging": definition.blocked_input,
            "blockedOutputsMessaging": definition.blocked_outputs,
        }
        if definition.description:
            described["description"] = definition.description
        return described

    def update(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._owned(ctx, params["guardrailIdentifier"])
        definition = self._definition(ctx, params)
        try:
            updated = self.store.update(stored.guardrail_id, definition)
        except KeyError:
            raise ResourceNotFoundException(NOT_FOUND) from None
        except NameTaken:
            raise ConflictException(f"A guardrail with the name {params['name']} already exists.") from None
        return {
            "guardrailId": updated.guardrail_id,
            "guardrailArn": updated.arn,
            "version": DRAFT,
            "updatedAt": _time(updated.updated),
        }

    def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._owned(ctx, params["guardrailIdentifier"])
        version = params.get("guardrailVersion")
        if version == DRAFT:
            raise ValidationException(
                "The DRAFT version cannot be deleted alone: delete the guardrail, or give a version number."
            )
        if version is not None:
            check_identifier(stored.guardrail_id, version)
        if not self.store.delete(stored.guardrail_id, version):
            raise ResourceNotFoundException(NOT_FOUND)
        return {}

    @staticmethod
    def _summary(stored: StoredVersion) -> dict[str, Any]:
        definition = stored.definition
        summary: dict[str, Any] = {
            "id": stored.guardrail_id,
            "arn": stored.arn,
            "status": "READY",
            "name": definition.name,
            "version": stored.version,
            "createdAt": _time(stored.created),
            "updatedAt": _time(stored.updated),
            **definition.extra,
        }
        if definition.description:
            summary["description"] = definition.description
        return summary

    def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        identifier = params.get("guardrailIdentifier")
        if identifier:
            stored = self._owned(ctx, identifier)
            found = self.store.versions(stored.guardrail_id)
        else:
            found = self.store.drafts(ctx.account_id, ctx.region)
        page, token = _PAGES.page([self._summary(item) for item in found], params)
        return {"guardrails": page, **({"nextToken": token} if token else {})}

    def create_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._owned(ctx, params["guardrailIdentifier"])
        try:
            made, _ = self.store.snapshot(
                stored.guardrail_id, params.get("description"), params.get("clientRequestToken")
            )
        except KeyError:
            raise ResourceNotFoundException(NOT_FOUND) from None
        return {"guardrailId": made.guardrail_id, "version": made.version}

    # -- tags ------------------------------------------------------------------------------------------------

    def _tagged(self, ctx: RequestContext, arn: str) -> str:
        stored = self.store.get(arn)
        if (
            stored is None
            or stored.arn != arn
            or (stored.account, stored.region) != (ctx.account_id, ctx.region)
        ):
            raise ResourceNotFoundException(f"The resource {arn} does not exist or cannot be tagged.")
        return stored.guardrail_id

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        guardrail = self._tagged(ctx, params["resourceARN"])
        if not self.store.tag(guardrail, _tags(params["tags"]), MAX_TAGS):
            raise TooManyTagsException(
                f"A resource can have at most {MAX_TAGS} tags.", extra={"resourceName": params["resourceARN"]}
            )
        return {}

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.store.untag(self._tagged(ctx, params["resourceARN"]), list(params["tagKeys"]))
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = self.store.tags(self._tagged(ctx, params["resourceARN"]))
        return {"tags": [{"key": key, "value": value} for key, value in tags]}


__all__ = ["POLICY_CONFIGS", "GuardrailsControl", "guardrail_id", "is_guardrail_arn"]
