"""What every part of the Fraud Detector provider shares: its errors, ARNs, times, tags and paging."""

from __future__ import annotations

import queue
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outcrop.config import Settings
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.frauddetector.model import FraudModel
from outcrop.services.frauddetector.store import FraudStore, Resource, Where
from outcrop.services.paging import Pager
from outcrop.storage.objects import ObjectStore


class ValidationException(ServiceError, service="frauddetector"): ...


class ResourceNotFoundException(ServiceError, service="frauddetector"): ...


class ConflictException(ServiceError, service="frauddetector"): ...


class ResourceUnavailableException(ServiceError, service="frauddetector"): ...


Jobs = queue.Queue[tuple[Where, str] | None]
"""Long work for the background thread: (partition, model version key or "<kind>:<job id>"); None stops it."""

MODEL_TYPES = ("ONLINE_FRAUD_INSIGHTS", "TRANSACTION_FRAUD_INSIGHTS")
PAGES = Pager(
    ValidationException, "The nextToken is not valid", default=100, token="nextToken", size="maxResults"
)


def iso(epoch: float) -> str:
    """AWS's `time` strings: ISO 8601 in UTC with milliseconds."""
    return (
        datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"
    )


def parse_time(text: str, member: str) -> float:
    """Seconds since the epoch of an ISO 8601 timestamp (UTC when it names no offset)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationException(f"{member} {text!r} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def version_arn(key: str) -> str:
    """The ARN resource of a model version stored under `id/type/number`: AWS orders it type/id/number."""
    model_id, model_type, number = key.split("/")
    return f"model-version/{model_type}/{model_id}/{number}"


def stamped(resource: Resource) -> dict[str, Any]:
    return {"createdTime": iso(resource.created), "lastUpdatedTime": iso(resource.updated)}


def tag_map(tags: list[dict[str, str]] | None) -> dict[str, str]:
    found = {t["key"]: t["value"] for t in tags or []}
    if len(found) > 200:
        raise ValidationException("A resource can have at most 200 tags")
    if any(key.lower().startswith("aws:") for key in found):
        raise ValidationException("Tag keys starting with aws: are reserved")
    return found


class Base:
    """The state and helpers the operation groups share; FraudDetector (provider.py) sets them up."""

    store: FraudStore
    objects: ObjectStore
    settings: Settings
    model_dir: Path
    data_path: Callable[..., Path]
    _jobs: Jobs
    _models_cache: dict[str, FraudModel]  # by file path: every partition's, shared

    def fraud_model(self, key: str) -> FraudModel:
        raise NotImplementedError  # Training provides it

    def _run_import(self, job_id: str) -> None:
        raise NotImplementedError  # Predictions provides it

    def _run_batch_prediction(self, job_id: str) -> None:
        raise NotImplementedError  # BatchPredictions provides it

    def _queue(self, key: str) -> None:
        """Hand long work (a model version key, or "<kind>:<job id>") to the background thread."""
        self._jobs.put((self.store.where, key))

    def list_elements(self, names: tuple[str, ...]) -> dict[str, list[str]]:
        raise NotImplementedError  # Lists provides it

    def _arn(self, ctx: RequestContext | None, resource: str) -> str:
        """An ARN in this partition's account and region (the request's, or a background job's own)."""
        account, region = self.store.where
        return f"arn:aws:frauddetector:{region}:{account}:{resource}"

    def _need(self, kind: str, key: str, what: str) -> Resource:
        found = self.store.get(kind, key)
        if found is None:
            raise ResourceNotFoundException(f"The {what} {key.replace('/', ' ')} does not exist")
        return found

    def _tag_new(self, ctx: RequestContext, resource: str, params: dict[str, Any]) -> None:
        tags = tag_map(params.get("tags"))
        if tags:
            self.store.set_tags(self._arn(ctx, resource), tags)

    @staticmethod
    def _page(items: list[Any], params: dict[str, Any], member: str) -> dict[str, Any]:
        page, token = PAGES.page(items, params)
        output: dict[str, Any] = {member: page}
        if token:
            output["nextToken"] = token
        return output


def identifier(value: str, member: str) -> str:
    """A name of lowercase letters, digits, - and _ (checked here where the model leaves it free)."""
    if not re.fullmatch(r"[0-9a-z_-]{1,64}", value):
        raise ValidationException(f"{member} {value!r} must be 1-64 lowercase letters, digits, - or _")
    return value
