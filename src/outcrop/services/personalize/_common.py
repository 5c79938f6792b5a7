"""What the Personalize control plane's operation modules share: its errors, shapes of answers, paging."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from outcrop.personalize import errors
from outcrop.personalize.jobs import Worker
from outcrop.personalize.store import PersonalizeStore, Resource
from outcrop.protocol.errors import ServiceError
from outcrop.protocol.router import service_model
from outcrop.services.base import RequestContext
from outcrop.services.paging import Pager


class InvalidInputException(ServiceError, service="personalize"): ...


class ResourceNotFoundException(ServiceError, service="personalize"): ...


class ResourceAlreadyExistsException(ServiceError, service="personalize"): ...


class ResourceInUseException(ServiceError, service="personalize"): ...


class InvalidNextTokenException(ServiceError, service="personalize"): ...


class TooManyTagsException(ServiceError, service="personalize"): ...


class LimitExceededException(ServiceError, service="personalize"): ...


class Operations:
    """What every group of control plane operations is given: the store, the worker, the models folder."""

    store: PersonalizeStore
    worker: Worker
    models: Path

    def here(self, ctx: RequestContext) -> PersonalizeStore:
        """The resources of the request's account and region: another region's are not found, listed or
        named in it, as on AWS."""
        return self.store.at((ctx.account_id, ctx.region))


PAGES = Pager(
    InvalidNextTokenException,
    "Invalid next token.",
    default=100,
    maximum=100,
    token="nextToken",
    size="maxResults",
)

# kind: (describe shape, summary shape, ARN member, name member)
KINDS = {
    "datasetGroup": ("DatasetGroup", "DatasetGroupSummary", "datasetGroupArn", "name"),
    "schema": ("DatasetSchema", "DatasetSchemaSummary", "schemaArn", "name"),
    "dataset": ("Dataset", "DatasetSummary", "datasetArn", "name"),
    "datasetImportJob": ("DatasetImportJob", "DatasetImportJobSummary", "datasetImportJobArn", "jobName"),
    "solution": ("Solution", "SolutionSummary", "solutionArn", "name"),
    "solutionVersion": ("SolutionVersion", "SolutionVersionSummary", "solutionVersionArn", "name"),
    "campaign": ("Campaign", "CampaignSummary", "campaignArn", "name"),
    "recommender": ("Recommender", "RecommenderSummary", "recommenderArn", "name"),
    "filter": ("Filter", "FilterSummary", "filterArn", "name"),
    "eventTracker": ("EventTracker", "EventTrackerSummary", "eventTrackerArn", "name"),
    "batchInferenceJob": ("BatchInferenceJob", "BatchInferenceJobSummary", "batchInferenceJobArn", "jobName"),
    "datasetExportJob": ("DatasetExportJob", "DatasetExportJobSummary", "datasetExportJobArn", "jobName"),
    "dataDeletionJob": ("DataDeletionJob", "DataDeletionJobSummary", "dataDeletionJobArn", "jobName"),
}

_ERRORS: dict[type[errors.PersonalizeError], type[ServiceError]] = {
    errors.InvalidInput: InvalidInputException,
    errors.NotFound: ResourceNotFoundException,
    errors.AlreadyExists: ResourceAlreadyExistsException,
    errors.InUse: ResourceInUseException,
    errors.LimitExceeded: LimitExceededException,
}


@contextmanager
def answered() -> Iterator[None]:
    """The domain's errors as the control plane's modelled exceptions."""
    try:
        yield
    except errors.PersonalizeError as exc:
        raise _ERRORS.get(type(exc), InvalidInputException)(str(exc)) from None


@cache
def _members(shape: str) -> frozenset[str]:
    return frozenset(service_model("personalize").shape_for(shape).members)


def shaped(resource: Resource, summary: bool = False) -> dict[str, Any]:
    """A resource as its describe (or list summary) shape: only the members the model declares."""
    full, brief, arn_key, name_key = KINDS[resource.kind]
    members = _members(brief if summary else full)
    body: dict[str, Any] = {
        arn_key: resource.arn,
        name_key: resource.name,
        "status": resource.status,
        "creationDateTime": resource.created,
        "lastUpdatedDateTime": resource.updated,
        **({"failureReason": resource.failure} if resource.failure else {}),
        **resource.doc,
    }
    return {k: v for k, v in body.items() if k in members and v is not None}


def listed(
    store: PersonalizeStore, kind: str, params: dict[str, Any], key: str, parent: str | None = None
) -> dict[str, Any]:
    page, token = PAGES.page(store.list_of(kind, parent), params)
    return {key: [shaped(r, summary=True) for r in page], **({"nextToken": token} if token else {})}


def tags_of(params: dict[str, Any]) -> list[dict[str, str]]:
    tags = list(params.get("tags") or [])
    if len(tags) > 200:
        raise TooManyTagsException("A resource can have at most 200 tags.")
    return tags
