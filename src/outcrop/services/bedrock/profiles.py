"""Inference profiles as the Bedrock control plane shows them, and the tags of the resources that have them.

System-defined (cross-region) profiles follow from the catalog: an entry's `profiles` geos make
`us.<id>`, `global.<id>`... profiles, listed to callers in a region of that geo and routing to the model
ARNs of the geo's regions. Application profiles are made by callers from a foundation model or a system
profile (`modelSource.copyFrom`) and kept in `InferenceProfileStore`; either kind's id or ARN works as
`modelId` wherever a model id does (the inference path asks the store for application profiles).
The `Bedrock` service's methods hand their input here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from outcrop.catalog import BedrockModel, Catalog
from outcrop.protocol.errors import (
    ConflictException,
    ResourceNotFoundException,
    ServiceError,
    ValidationException,
)
from outcrop.services.base import RequestContext
from outcrop.services.bedrock.profile_store import ApplicationProfile, InferenceProfileStore, ProfileNameTaken
from outcrop.services.paging import Pager


class TooManyTagsException(ServiceError, service="bedrock"):
    pass


# The regions a geo's cross-region profile routes to (global: any commercial region, so its model ARNs
# carry no region, as AWS lists them).
GEO_REGIONS: dict[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
    "us-gov": ("us-gov-east-1", "us-gov-west-1"),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "ca": ("ca-central-1", "ca-west-1"),
    "global": ("",),
}
_GEO_NAMES = {"us": "US", "eu": "EU", "apac": "APAC", "us-gov": "US-GOV", "jp": "JP", "au": "AU", "ca": "CA"}
MAX_TAGS = 50

_PAGES = Pager(
    ValidationException, "The nextToken is not valid.", default=1000, token="nextToken", size="maxResults"
)


def _time(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def geos_of(region: str) -> set[str]:
    """The geos whose cross-region profiles a caller in `region` may use (global everywhere)."""
    return {geo for geo, regions in GEO_REGIONS.items() if region in regions} | {"global"}


def _tags(items: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    return [(str(item["key"]), str(item["value"])) for item in items or []]


class InferenceProfiles:
    def __init__(self, *, catalog: Catalog, store: InferenceProfileStore) -> None:
        self.catalog = catalog
        self.store = store

    # -- system-defined profiles -----------------------------------------------------------------------------

    @staticmethod
    def _system_models(geo: str, model: BedrockModel) -> list[str]:
        return [model.arn(region) for region in GEO_REGIONS.get(geo, ())]

    def _system(self, ctx: RequestContext, profile_id: str, geo: str, model: BedrockModel) -> dict[str, Any]:
        geo_name = _GEO_NAMES.get(geo, "Global")
        regions = [region for region in GEO_REGIONS.get(geo, ()) if region]
        where = ", ".join(regions) if regions else "commercial AWS Regions"
        return {
            "inferenceProfileName": f"{geo_name} {model.provider} {model.name}",
            "description": f"Routes requests to {model.provider} {model.name} in {where}.",
            "createdAt": _time(0),
            "updatedAt": _time(0),
            "inferenceProfileArn": ctx.arn("bedrock", f"inference-profile/{profile_id}"),
            "models": [{"modelArn": arn} for arn in self._system_models(geo, model)],
            "inferenceProfileId": profile_id,
            "status": "ACTIVE",
            "type": "SYSTEM_DEFINED",
        }

    def _find_system(self, identifier: str) -> tuple[str, str, BedrockModel] | None:
        """(profile id, geo, model) of a system profile's id or ARN."""
        if identifier.startswith("arn:"):
            resource, _, identifier = identifier.partition("/")
            if not resource.endswith(":inference-profile"):
                return None
        geo, _, base = identifier.partition(".")
        model = self.catalog.bedrock.get(base) or self.catalog.unserved.get(base)
        if model is None or model.profiles is None or geo not in model.profiles:
            return None
        return identifier, geo, model

    # -- application profiles --------------------------------------------------------------------------------

    @staticmethod
    def _application(profile: ApplicationProfile) -> dict[str, Any]:
        described: dict[str, Any] = {
            "inferenceProfileName": profile.name,
            "createdAt": _time(profile.created),
            "updatedAt": _time(profile.updated),
            "inferenceProfileArn": profile.arn,
            "models": [{"modelArn": arn} for arn in profile.models],
            "inferenceProfileId": profile.id,
            "status": "ACTIVE",
            "type": "APPLICATION",
        }
        if profile.description:
            described["description"] = profile.description
        return described

    def _source(self, ctx: RequestContext, arn: str) -> tuple[str, list[str]]:
        """The catalog model id and the model ARNs of a `copyFrom` ARN (a foundation model or a system
        profile)."""
        resource, _, identifier = arn.partition("/")
        region = resource.split(":")[3] if resource.count(":") >= 4 else ""
        if resource.endswith(":foundation-model"):
            model = self.catalog.bedrock.get(identifier) or self.catalog.unserved.get(identifier)
            if model is not None:
                return model.model_id, [model.arn(region or ctx.region)]
        elif resource.endswith(":inference-profile"):
            system = self._find_system(identifier)
            if system is not None:
                _, geo, model = system
                return model.model_id, self._system_models(geo, model)
        raise ValidationException(
            f"The model source {arn} is not a foundation model or a system-defined inference profile "
            "of this server."
        )

    def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        source = params["modelSource"].get("copyFrom")
        if not source:
            raise ValidationException("modelSource must name copyFrom, the ARN of a model or profile.")
        tags = _tags(params.get("tags"))
        if len(tags) > MAX_TAGS:
            raise TooManyTagsException(f"A resource can have at most {MAX_TAGS} tags.")
        model_id, models = self._source(ctx, source)
        try:
            profile, _ = self.store.create(
                account=ctx.account_id,
                region=ctx.region,
                name=params["inferenceProfileName"],
                description=params.get("description"),
                source_arn=source,
                model_id=model_id,
                models=models,
                client_token=params.get("clientRequestToken"),
                tags=tags,
            )
        except ProfileNameTaken:
            raise ConflictException(
                f"An inference profile named {params['inferenceProfileName']} already exists."
            ) from None
        return {"inferenceProfileArn": profile.arn, "status": "ACTIVE"}

    def _owned(self, ctx: RequestContext, identifier: str) -> ApplicationProfile | None:
        profile = self.store.get(identifier)
        if profile is None or (profile.account, profile.region) != (ctx.account_id, ctx.region):
            return None
        return profile

    def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        identifier = params["inferenceProfileIdentifier"]
        system = self._find_system(identifier)
        if system is not None:
            return self._system(ctx, *system)
        profile = self._owned(ctx, identifier)
        if profile is None:
            raise ResourceNotFoundException(f"The inference profile {identifier} does not exist.")
        return self._application(profile)

    def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("typeEquals", "SYSTEM_DEFINED") == "APPLICATION":
            found = [
                self._application(profile) for profile in self.store.in_region(ctx.account_id, ctx.region)
            ]
        else:
            geos = geos_of(ctx.region)
            found = [
                self._system(ctx, profile_id, geo, model)
                for profile_id, geo, model in self.catalog.system_profiles()
                if geo in geos
            ]
        page, token = _PAGES.page(found, params)
        return {"inferenceProfileSummaries": page, **({"nextToken": token} if token else {})}

    def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        identifier = params["inferenceProfileIdentifier"]
        if self._find_system(identifier) is not None:
            raise ValidationException(
                "System-defined inference profiles cannot be deleted; only application profiles can."
            )
        profile = self._owned(ctx, identifier)
        if profile is None:
            raise ResourceNotFoundException(f"The inference profile {identifier} does not exist.")
        self.store.delete(profile)
        return {}

    # -- tags ------------------------------------------------------------------------------------------------

    def _taggable(self, ctx: RequestContext, arn: str) -> str:
        """The ARN of a resource here that takes tags (an application profile of the caller's)."""
        profile = self._owned(ctx, arn) if arn.startswith("arn:") else None
        if profile is None:
            raise ResourceNotFoundException(f"The resource {arn} does not exist or cannot be tagged.")
        return profile.arn

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._taggable(ctx, params["resourceARN"])
        if not self.store.tag(arn, _tags(params["tags"]), MAX_TAGS):
            raise TooManyTagsException(
                f"A resource can have at most {MAX_TAGS} tags.", extra={"resourceName": arn}
            )
        return {}

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.store.untag(self._taggable(ctx, params["resourceARN"]), list(params["tagKeys"]))
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = self.store.tags(self._taggable(ctx, params["resourceARN"]))
        return {"tags": [{"key": key, "value": value} for key, value in tags]}
