"""Forecast's datasets, dataset groups and dataset import jobs, and the helpers every operation uses
(errors, lookups, paging and list filters)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outcrop.forecast.series import FREQUENCIES, strptime_format
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.forecast.domains import schema_problem
from outcrop.services.forecast.store import ACTIVE, FAILED, PENDING, Exists, ForecastStore, Resource
from outcrop.services.forecast.work import ForecastWork, split_s3
from outcrop.services.paging import Pager
from outcrop.storage.objects import ObjectStore, StoreError


class InvalidInputException(ServiceError, service="forecast"): ...


class InvalidNextTokenException(ServiceError, service="forecast"): ...


class ResourceAlreadyExistsException(ServiceError, service="forecast"): ...


class ResourceInUseException(ServiceError, service="forecast"): ...


class ResourceNotFoundException(ServiceError, service="forecast"): ...


_PAGES = Pager(InvalidNextTokenException, "The NextToken is not valid.", default=100, maximum=100)
_LABEL = {
    "dataset": "dataset",
    "dataset-group": "dataset group",
    "dataset-import-job": "dataset import job",
    "predictor": "predictor",
    "forecast": "forecast",
    "forecast-export-job": "forecast export job",
}
_FILTER_KEYS = {
    "dataset-import-job": ("DatasetArn", "Status"),
    "predictor": ("DatasetGroupArn", "Status"),
    "forecast": ("DatasetGroupArn", "PredictorArn", "Status"),
    "forecast-export-job": ("ForecastArn", "Status"),
}


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def open_store(data_path: Callable[..., Path]) -> ForecastStore:
    return ForecastStore(data_path("forecast"))


class DatasetOperations:
    """The dataset half of the Forecast provider (the provider adds predictors, forecasts, exports)."""

    def __init__(self, *, objects: ObjectStore, data_path: Callable[..., Path]) -> None:
        self.objects = objects
        self.store = open_store(data_path)
        self.work = ForecastWork(self.store, objects)
        self.work.start()

    def close(self) -> None:
        self.work.close()
        self.store.close()

    # -- helpers ----------------------------------------------------------------------------------------

    def _get(self, arn: str, kind: str) -> Resource:
        found = self.store.get(arn)
        if found is None or found.kind != kind:
            raise ResourceNotFoundException(f"No {_LABEL[kind]} with the ARN {arn} exists")
        return found

    def _create(
        self, ctx: RequestContext, kind: str, path: str, name: str, body: dict[str, Any], status: str
    ) -> str:
        arn = ctx.arn("forecast", f"{kind}/{path}")
        try:
            self.store.create(kind, arn, name, body, status)
        except Exists:
            raise ResourceAlreadyExistsException(
                f"A {_LABEL[kind]} with the ARN {arn} already exists"
            ) from None
        if status == PENDING:
            self.work.submit(arn)
        return arn

    def _list(
        self, kind: str, params: dict[str, Any], summary: Callable[[Resource], dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], str | None]:
        items = list(reversed(self.store.of_kind(kind)))
        for rule in params.get("Filters") or []:
            if rule["Key"] not in _FILTER_KEYS.get(kind, ()):
                raise InvalidInputException(
                    f"The filter key {rule['Key']} is not valid here; "
                    f"use one of {', '.join(_FILTER_KEYS[kind])}"
                )
            wanted = rule["Condition"] == "IS"
            items = [r for r in items if (_field(r, rule["Key"]) == rule["Value"]) == wanted]
        page, token = _PAGES.page(items, params)
        return [summary(r) for r in page], token

    def _not_busy(self, resource: Resource) -> None:
        if resource.status not in (ACTIVE, FAILED):
            raise ResourceInUseException(
                f"The {_LABEL[resource.kind]} {resource.arn} is {resource.status}; "
                "wait until it is ACTIVE or CREATE_FAILED"
            )

    def _dependents(self, kind: str, key: str, arn: str) -> list[Resource]:
        return [r for r in self.store.of_kind(kind) if r.body.get(key) == arn]

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
        r = self._get(params["DatasetArn"], "dataset")
        out = {"DatasetArn": r.arn, **{k: v for k, v in r.body.items() if k != "Tags"}}
        return {
            **out,
            "Status": r.status,
            "CreationTime": _time(r.created),
            "LastModificationTime": _time(r.modified),
        }

    def list_datasets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        items, token = self._list(
            "dataset",
            params,
            lambda r: {
                "DatasetArn": r.arn,
                "DatasetName": r.name,
                "DatasetType": r.body["DatasetType"],
                "Domain": r.body["Domain"],
                "CreationTime": _time(r.created),
                "LastModificationTime": _time(r.modified),
            },
        )
        return {"Datasets": items, **({"NextToken": token} if token else {})}

    def delete_dataset(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        dataset = self._get(params["DatasetArn"], "dataset")
        jobs = self._dependents("dataset-import-job", "DatasetArn", dataset.arn)
        for job in jobs:
            self._not_busy(job)
        for job in jobs:
            self.store.delete(job.arn)
        self.store.delete(dataset.arn)
        return {}

    # -- dataset groups ---------------------------------------------------------------------------------

    def _check_group_datasets(self, domain: str, arns: list[str]) -> None:
        seen: set[str] = set()
        for arn in arns:
            dataset = self._get(arn, "dataset")
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
        self._check_group_datasets(params["Domain"], arns)
        body = {
            "DatasetGroupName": params["DatasetGroupName"],
            "Domain": params["Domain"],
            "DatasetArns": arns,
            "Tags": params.get("Tags") or [],
        }
        name = params["DatasetGroupName"]
        return {"DatasetGroupArn": self._create(ctx, "dataset-group", name, name, body, ACTIVE)}

    def update_dataset_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._get(params["DatasetGroupArn"], "dataset-group")
        arns = list(params["DatasetArns"])
        self._check_group_datasets(group.body["Domain"], arns)
        self.store.update(group.arn, DatasetArns=arns)
        return {}

    def describe_dataset_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        r = self._get(params["DatasetGroupArn"], "dataset-group")
        return {
            "DatasetGroupName": r.name,
            "DatasetGroupArn": r.arn,
            "DatasetArns": r.body["DatasetArns"],
            "Domain": r.body["Domain"],
            "Status": r.status,
            "CreationTime": _time(r.created),
            "LastModificationTime": _time(r.modified),
        }

    def list_dataset_groups(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        items, token = self._list(
            "dataset-group",
            params,
            lambda r: {
                "DatasetGroupArn": r.arn,
                "DatasetGroupName": r.name,
                "CreationTime": _time(r.created),
                "LastModificationTime": _time(r.modified),
            },
        )
        return {"DatasetGroups": items, **({"NextToken": token} if token else {})}

    def delete_dataset_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._get(params["DatasetGroupArn"], "dataset-group")
        if self._dependents("predictor", "DatasetGroupArn", group.arn):
            raise ResourceInUseException(f"The dataset group {group.arn} has predictors: delete them first")
        self.store.delete(group.arn)
        return {}

    # -- imports ----------------------------------------------------------------------------------------

    def create_dataset_import_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        dataset = self._get(params["DatasetArn"], "dataset")
        if (params.get("Format") or "CSV").upper() != "CSV":
            raise InvalidInputException("Only the CSV format is supported for dataset imports by this server")
        if params.get("TimeZone") or params.get("UseGeolocationForTimeZone"):
            raise InvalidInputException(
                "Time zone conversion (TimeZone, UseGeolocationForTimeZone) is not supported by this server"
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
        r = self._get(params["DatasetImportJobArn"], "dataset-import-job")
        out = {"DatasetImportJobArn": r.arn, **{k: v for k, v in r.body.items() if k != "Tags"}}
        return {**out, **_status(r)}

    def list_dataset_import_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        items, token = self._list(
            "dataset-import-job",
            params,
            lambda r: {
                "DatasetImportJobArn": r.arn,
                "DatasetImportJobName": r.name,
                "DataSource": r.body["DataSource"],
                "ImportMode": r.body.get("ImportMode", "FULL"),
                **_status(r),
            },
        )
        return {"DatasetImportJobs": items, **({"NextToken": token} if token else {})}

    def delete_dataset_import_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        job = self._get(params["DatasetImportJobArn"], "dataset-import-job")
        self._not_busy(job)
        self.store.delete(job.arn)
        return {}


def _field(resource: Resource, key: str) -> Any:
    return resource.status if key == "Status" else resource.body.get(key)


def _status(r: Resource) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Status": r.status,
        "CreationTime": _time(r.created),
        "LastModificationTime": _time(r.modified),
    }
    if r.message:
        out["Message"] = r.message
    return out
