"""What every part of the SageMaker control plane shares: its state, its errors, ARNs and list paging."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from outcrop.protocol.errors import ServiceError, ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.paging import Pager
from outcrop.services.sagemaker.store import AlreadyExists

if TYPE_CHECKING:
    from outcrop.services.sagemaker.hosting import EndpointHosting
    from outcrop.services.sagemaker.store import Record, SageMakerStore, Where
    from outcrop.services.sagemaker.training import TrainingRunner


class ResourceNotFound(ServiceError, service="sagemaker"): ...


class ResourceInUse(ServiceError, service="sagemaker"): ...


class Conflict(ServiceError, service="sagemaker"):
    code = "ConflictException"


DEFAULT_PAGE = 10  # SageMaker's List* answer 10 items unless MaxResults says otherwise
_LIST_PAGES = Pager(ValidationException, "The NextToken is not valid.", default=DEFAULT_PAGE)


class ControlPlane:
    """State the operation mixins share; the `SageMaker` service sets these up."""

    hosting: EndpointHosting
    store: SageMakerStore
    training: TrainingRunner

    def arn(self, ctx: RequestContext, resource: str) -> str:
        return ctx.arn("sagemaker", resource)

    @staticmethod
    def where(ctx: RequestContext) -> Where:
        """The account and region whose resources a request sees and makes."""
        return (ctx.account_id, ctx.region)

    def insert_job(
        self, ctx: RequestContext, kind: str, name: str, arn: str, body: dict[str, Any], tags: list[Any]
    ) -> None:
        """Record a new InProgress job; a name already used in the account and region is ResourceInUse."""
        try:
            self.store.insert(kind, name, arn, "InProgress", body, tags, where=self.where(ctx))
        except AlreadyExists as exc:
            raise ResourceInUse(
                "Job names must be unique within an AWS account and region, and a job with this name already "
                f"exists ({arn})"
            ) from exc


def not_found(kind: str, arn: str) -> ValidationException:
    """SageMaker's wording for a missing model, endpoint or endpoint configuration."""
    return ValidationException(f'Could not find {kind} "{arn}".')


def already_exists(kind: str, arn: str) -> ValidationException:
    return ValidationException(f'Cannot create already existing {kind} "{arn}".')


def _stamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def listed(
    records: Iterable[Record],
    params: dict[str, Any],
    summary: Callable[[Record], dict[str, Any]],
    *,
    sort_keys: dict[str, Callable[[Record], Any]] | None = None,
    default_sort: str = "CreationTime",
    default_order: str = "Descending",
    status_key: str | None = None,
    keep: Callable[[Record], bool] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Filter (NameContains, creation/modification windows, StatusEquals), sort and page a List* call."""
    contains = (params.get("NameContains") or "").lower()
    after, before = _stamp(params.get("CreationTimeAfter")), _stamp(params.get("CreationTimeBefore"))
    modified_after = _stamp(params.get("LastModifiedTimeAfter"))
    modified_before = _stamp(params.get("LastModifiedTimeBefore"))
    status = params.get("StatusEquals")
    chosen = [
        r
        for r in records
        if (not contains or contains in r.name.lower())
        and (after is None or r.created > after)
        and (before is None or r.created < before)
        and (modified_after is None or r.modified > modified_after)
        and (modified_before is None or r.modified < modified_before)
        and (status is None or status_key is None or r.status == status)
        and (keep is None or keep(r))
    ]
    keys: dict[str, Callable[[Record], Any]] = {
        "Name": lambda r: r.name,
        "CreationTime": lambda r: r.created,
        "Status": lambda r: r.status,
        **(sort_keys or {}),
    }
    key = keys.get(params.get("SortBy") or default_sort, keys["CreationTime"])
    chosen.sort(key=key, reverse=(params.get("SortOrder") or default_order) == "Descending")
    page, token = _LIST_PAGES.page(chosen, params)
    return [summary(r) for r in page], token


def output(body: dict[str, Any], shape_members: Iterable[str]) -> dict[str, Any]:
    """Only the members the output shape models, from a stored description."""
    return {k: body[k] for k in shape_members if k in body and body[k] is not None}


_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


def check_name(member: str, value: str) -> None:
    """SageMaker names: the model's pattern matched whole (the generic validator only searches for it)."""
    if not _NAME.fullmatch(value):
        field = member[0].lower() + member[1:]
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
        )


def request_stop(
    store: SageMakerStore,
    kind: str,
    record: Record,
    what: str,
    mark: Callable[[Record], None] = lambda _r: None,
) -> None:
    """Mark a job Stopping only from InProgress, read and written in one transaction, so a job that ends
    meanwhile refuses the stop (ValidationException naming its status) instead of a stop that is lost."""
    seen = [record.status]

    def stopping(r: Record) -> bool:
        seen.append(r.status)
        if r.status != "InProgress":
            return False
        r.status = "Stopping"
        mark(r)
        return True

    if store.update(kind, record.name, stopping, where=record.where) is None:
        raise ValidationException(f"The request was rejected because the {what} is in status {seen[-1]}.")
