"""Forecast's datasets, dataset groups and dataset import jobs, and the helpers every operation uses
(errors, lookups, and the one Describe/List/Delete path every kind takes: see kinds.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from outcrop.config import Settings
from outcrop.forecast.series import FREQUENCIES, strptime_format
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.forecast.domains import schema_problem
from outcrop.services.forecast.kinds import KINDS, view
from outcrop.services.forecast.store import ACTIVE, FAILED, PENDING, Exists, Resource, open_store, where
from outcrop.services.forecast.work import ForecastWork, split_s3
from outcrop.services.paging import Pager
from outcrop.storage.objects import ObjectStore, StoreError


class InvalidInputException(ServiceError, service="forecast"): ...


class InvalidNextTokenException(ServiceError, service="forecast"): ...


class ResourceAlreadyExistsException(ServiceError, service="forecast"): ...


class ResourceInUseException(ServiceError, service="forecast"): ...


class ResourceNotFoundException(ServiceError, service="forecast"): ...


_PAGES = Pager(InvalidNextTokenException, "The NextToken is not valid.", default=100, maximum=100)


class DatasetOperations:
    """The dataset half of the Forecast provider (the provider adds predictors, forecasts, exports)."""

    def __init__(self, *, objects: ObjectStore, settings: Settings, data_path: Callable[..., Path]) -> None:
        self.objects = objects
        self.store = open_store(data_path, settings)
        self.work = ForecastWork(self.store, objects)
        self.work.start()

    def close(self) -> None:
        self.work.close()
        self.store.close()

    # -- helpers ----------------------------------------------------------------------------------------

    def _get(self, ctx: RequestContext, arn: str, kind: str) -> Resource:
        """The resource of this kind the ARN names, in the request's account and region."""
        found = self.store.get(arn, where=where(ctx))
        if found is None or found.kind != kind:
            raise ResourceNotFoundException(f"No {KINDS[kind].label} with the ARN {arn} exists")
        return found

    def _create(
        self, ctx: RequestContext, kind: str, path: str, name: str, body: dict[str, Any], status: str
    ) -> str:
        arn = ctx.arn("forecast", f"{kind}/{path}")
        try:
            self.store.create(kind, arn, name, body, status)
        except Exists:
            raise ResourceAlreadyExistsException(
                f"A {KINDS[kind].label} with the ARN {arn} already exists"
            ) from None
        if status == PENDING:
            self.work.submit(arn)
        return arn

    def _describe(self, ctx: RequestContext, params: dict[str, Any], kind: str) -> dict[str, Any]:
        """Describe{Kind}: the resource its ARN member names, as its kind shows it."""
        spec = KINDS[kind]
        return view(self._get(ctx, params[spec.arn], kind), spec.describe)

    def _list(self, ctx: RequestContext, params: dict[str, Any], kind: str) -> dict[str, Any]:
        """List{Kind}s: newest first, filtered by the kind's filter keys, a page at a time."""
        spec = KINDS[kind]
        items = list(reversed(self.store.of_kind(kind, where=where(ctx))))
        for rule in params.get("Filters") or []:
            if rule["Key"] not in spec.filters:
                raise InvalidInputException(
                    f"The filter key {rule['Key']} is not valid here; use one of {', '.join(spec.filters)}"
                )
            wanted = rule["Condition"] == "IS"
            items = [r for r in items if (_field(r, rule["Key"]) == rule["Value"]) == wanted]
        page, token = _PAGES.page(items, params)
        out: dict[str, Any] = {spec.prefix + "s": [view(r, spec.summary) for r in page]}
        return {**out, "NextToken": token} if token else out

    def _delete(self, ctx: RequestContext, params: dict[str, Any], kind: str) -> dict[str, Any]:
        """Delete{Kind}: refused while it or a dependent it waits for is in progress, or while dependents
        that need it exist; dependents it takes along go with it."""
        spec = KINDS[kind]
        resource = self._get(ctx, params[spec.arn], kind)
        self._not_busy(resource)
        for other, member in spec.blockers:
            if self._dependents(other, member, resource):
                raise ResourceInUseException(
                    f"The {spec.label} {resource.arn} has {KINDS[other].label}s: delete them first"
                )
        waiting = [d for other, member in spec.waits_for for d in self._dependents(other, member, resource)]
        for dependent in waiting:
            self._not_busy(dependent)
        for dependent in waiting if spec.takes_along else []:
            self.store.delete(dependent.arn)
        self.store.delete(resource.arn)
        return {}

    def _not_busy(self, resource: Resource) -> None:
        if resource.status not in (ACTIVE, FAILED):
            raise ResourceInUseException(
                f"The {KINDS[resource.kind].label} {resource.arn} is {resource.status}; "
                "wait until it is ACTIVE or CREATE_FAILED"
            )

    def _dependents(self, kind: str, key: str, of: Resource) -> list[Resource]:
        """The resources of a kind whose `key` names `of` (they live where it does)."""
        return [r for r in self.store.of_kind(kind, where=of.where) if r.body.get(key) == of.arn]

    # -- datasets ---------------------------------------------------------------------------------------

    def create_dataset(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind, frequency = params["DatasetType"], params.get("DataFrequency")
        if params.get("EncryptionConfig"):
            raise InvalidInputException(
                "Encryption with your KMS key (EncryptionConfig) is not supported by this server"
            )
        if kind != "ITEM_METADATA" and not frequency:
            raise InvalidInputException(f"DataFrequency is required for a {kind} dataset")
        if frequency and frequency not in FREQUENCIES:
            raise InvalidInputException(
                f"The data frequency {frequency} is not valid; use one of {', '.join(FREQUENCIES)}"
            )
        attributes = [
            (a.get("AttributeName", ""), a.get("AttributeType", "string"))
            for a in params["Schema"].get("Attributes") or []
        ]
        problem = schema_problem(params["Domain"], kind, attributes)
        if problem:
            raise InvalidInputException(problem)
        schema = {"Attributes": [{"AttributeName": n, "AttributeType": t} for n, t in attributes]}
        body = {
            **{k: params[k] for k in ("DatasetName", "Domain", "DatasetType")},
            "Schema": schema,
            "Tags": params.get("Tags") or [],
        }
        if frequency:
            body["DataFrequency"] = frequency
        return {
            "DatasetArn": self._create(
                ctx, "dataset", params["DatasetName"], params["DatasetName"], body, ACTIVE
            )
        }

    def describe_dataset(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._describe(ctx, params, "dataset")

    def list_datasets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._list(ctx, params, "dataset")

    def delete_dataset(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete(ctx, params, "dataset")

    # -- dataset groups ---------------------------------------------------------------------------------

    def _check_group_datasets(self, ctx: RequestContext, domain: str, arns: list[str]) -> None:
        seen: set[str] = set()
        for arn in arns:
            dataset = self._get(ctx, arn, "dataset")
            if dataset.body["Domain"] != domain:
                raise InvalidInputException(
                    f"The dataset {arn} is in the {dataset.body['Domain']} domain; "
                    f"the dataset group is in {domain}"
                )
            if dataset.body["DatasetType"] in seen:
                raise InvalidInputException(
                    f"A dataset group can hold only one {dataset.body['DatasetType']} dataset"
                )
            seen.add(dataset.body["DatasetType"])

    def create_dataset_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arns = list(params.get("DatasetArns") or [])
        self._check_group_datasets(ctx, params["Domain"], arns)
        body = {
            "DatasetGroupName": params["DatasetGroupName"],
            "Domain": params["Domain"],
            "DatasetArns": arns,
            "Tags": params.get("Tags") or [],
        }
        name = params["DatasetGroupName"]
        return {"DatasetGroupArn": self._create(ctx, "dataset-group", name, name, body, ACTIVE)}

    def update_dataset_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._get(ctx, params["DatasetGroupArn"], "dataset-group")
        arns = list(params["DatasetArns"])
        self._check_group_datasets(ctx, group.body["Domain"], arns)
        self.store.update(group.arn, DatasetArns=arns)
        return {}

    def describe_dataset_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._describe(ctx, params, "dataset-group")

    def list_dataset_groups(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._list(ctx, params, "dataset-group")

    def delete_dataset_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete(ctx, params, "dataset-group")

    # -- imports ----------------------------------------------------------------------------------------

    def create_dataset_import_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        dataset = self._get(ctx, params["DatasetArn"], "dataset")
        if (params.get("Format") or "CSV").upper() != "CSV":
            raise InvalidInputException("Only the CSV format is supported for dataset imports by this server")
        if params.get("TimeZone") or params.get("UseGeolocationForTimeZone"):
            raise InvalidInputException(
                "Time zone conversion (TimeZone, UseGeolocationForTimeZone) is not supported by this server"
            )
        geolocation = params.get("GeolocationFormat")
        if geolocation is not None:
            # Only says how the geolocation attribute is written; what uses it (time zones, the weather
            # index) is refused, so it is checked, not used.
            if geolocation not in ("LAT_LONG", "CC_POSTALCODE"):
                raise InvalidInputException("GeolocationFormat must be LAT_LONG or CC_POSTALCODE")
            if not any(a.get("AttributeType") == "geolocation" for a in dataset.body["Schema"]["Attributes"]):
                raise InvalidInputException(
                    "GeolocationFormat needs a geolocation attribute in the dataset schema"
                )
        fmt = params.get("TimestampFormat")
        if fmt:
            try:
                strptime_format(fmt)
            except ValueError:
                raise InvalidInputException(f"The TimestampFormat {fmt} is not valid") from None
        path = params["DataSource"]["S3Config"]["Path"]
        try:
            bucket, _ = split_s3(path)
            self.objects.get_bucket(bucket)
        except StoreError:
            raise InvalidInputException(f"The S3 bucket of {path} does not exist") from None
        except Exception as exc:
            raise InvalidInputException(str(exc)) from None
        body = {k: params[k] for k in ("DatasetImportJobName", "DatasetArn", "DataSource")}
        body.update(
            ImportMode=params.get("ImportMode") or "FULL", Format="CSV", Tags=params.get("Tags") or []
        )
        if fmt:
            body["TimestampFormat"] = fmt
        name = params["DatasetImportJobName"]
        return {
            "DatasetImportJobArn": self._create(
                ctx, "dataset-import-job", f"{dataset.name}/{name}", name, body, PENDING
            )
        }

    def describe_dataset_import_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._describe(ctx, params, "dataset-import-job")

    def list_dataset_import_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._list(ctx, params, "dataset-import-job")

    def delete_dataset_import_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete(ctx, params, "dataset-import-job")


def _field(resource: Resource, key: str) -> Any:
    return resource.status if key == "Status" else resource.body.get(key)
