"""Personalize's data operations: dataset groups, schemas, datasets, import jobs, event trackers, filters."""

from __future__ import annotations

import json
import uuid
from typing import Any

from outcrop.personalize import filters
from outcrop.personalize.errors import AlreadyExists, InUse, InvalidInput
from outcrop.personalize.jobs import PENDING
from outcrop.personalize.recommend import datasets_of
from outcrop.personalize.schemas import check_for_dataset, parse_schema
from outcrop.services.base import RequestContext
from outcrop.services.personalize._common import Operations, answered, listed, shaped, tags_of

ACTIVE = "ACTIVE"
_DOMAINS = ("ECOMMERCE", "VIDEO_ON_DEMAND")


class DataOperations(Operations):
    # dataset groups
    def create_dataset_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        if params.get("domain") and params["domain"] not in _DOMAINS:
            raise_invalid(f"The domain {params['domain']} is not one of {', '.join(_DOMAINS)}.")
        if params.get("kmsKeyArn"):  # refused by name rather than kept and not used
            raise_invalid("Outcrop does not encrypt dataset groups with a KMS key (kmsKeyArn).")
        doc = {k: params.get(k) for k in ("roleArn", "domain")}
        arn = ctx.arn("personalize", f"dataset-group/{name}")
        with answered():
            self.here(ctx).create("datasetGroup", arn, name, None, ACTIVE, {**doc, "tags": tags_of(params)})
        return {"datasetGroupArn": arn, **({"domain": params["domain"]} if params.get("domain") else {})}

    def describe_dataset_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            return {"datasetGroup": shaped(self.here(ctx).get("datasetGroup", params["datasetGroupArn"]))}

    def list_dataset_groups(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return listed(self.here(ctx), "datasetGroup", params, "datasetGroups")

    def delete_dataset_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["datasetGroupArn"]
        with answered():
            self.here(ctx).get("datasetGroup", arn)
            for kind in ("dataset", "solution", "recommender", "eventTracker", "filter"):
                if self.here(ctx).list_of(kind, arn):
                    raise InUse(f"The dataset group {arn} still has resources ({kind}s): delete them first.")
            self.here(ctx).delete(arn)
        return {}

    # schemas
    def create_schema(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        arn = ctx.arn("personalize", f"schema/{name}")
        if params.get("domain") and params["domain"] not in _DOMAINS:
            raise_invalid(f"The domain {params['domain']} is not one of {', '.join(_DOMAINS)}.")
        with answered():
            parse_schema(params["schema"])
            self.here(ctx).create(
                "schema",
                arn,
                name,
                None,
                ACTIVE,
                {"schema": params["schema"], "domain": params.get("domain")},
            )
        return {"schemaArn": arn}

    def describe_schema(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            schema = self.here(ctx).get("schema", params["schemaArn"])
        body = shaped(schema)
        body.pop("status", None)
        return {"schema": body}

    def list_schemas(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return listed(self.here(ctx), "schema", params, "schemas")

    def delete_schema(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["schemaArn"]
        with answered():
            self.here(ctx).get("schema", arn)
            if any(d.doc.get("schemaArn") == arn for d in self.here(ctx).list_of("dataset")):
                raise InUse(f"The schema {arn} is used by a dataset.")
            self.here(ctx).delete(arn)
        return {}

    # datasets
    def create_dataset(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group_arn, dataset_type = params["datasetGroupArn"], params["datasetType"]
        with answered():
            group = self.here(ctx).get("datasetGroup", group_arn)
            schema = self.here(ctx).get("schema", params["schemaArn"])
            kind = _dataset_type(dataset_type)
            parsed = parse_schema(schema.doc["schema"])
            check_for_dataset(parsed, kind)
            domain = group.doc.get("domain")
            if schema.doc.get("domain") != domain:
                raise InvalidInput(
                    f"The schema's domain ({schema.doc.get('domain') or 'none'}) must match the dataset "
                    f"group's ({domain or 'none'})."
                )
            if domain and kind == "Interactions" and parsed.field("EVENT_TYPE") is None:
                raise InvalidInput(f"An Interactions schema in a {domain} dataset group needs EVENT_TYPE.")
            if kind in datasets_of(self.here(ctx), group_arn):
                raise AlreadyExists(f"The dataset group {group_arn} already has a {kind} dataset.")
            arn = ctx.arn("personalize", f"dataset/{group.name}/{kind.upper()}")
            doc = {
                "datasetGroupArn": group_arn,
                "datasetType": kind,
                "schemaArn": schema.arn,
                "tags": tags_of(params),
            }
            self.here(ctx).create(
                "dataset",
                arn,
                f"{params['name']}\x00{arn}",
                group_arn,
                ACTIVE,
                {**doc, "name": params["name"]},
            )
        return {"datasetArn": arn}

    def describe_dataset(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            return {"dataset": _dataset_shape(shaped(self.here(ctx).get("dataset", params["datasetArn"])))}

    def list_datasets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("datasetGroupArn")
        with answered():
            if group:
                self.here(ctx).get("datasetGroup", group)
            answer = listed(self.here(ctx), "dataset", params, "datasets", group)
        for entry in answer["datasets"]:
            _dataset_shape(entry)
        return answer

    def delete_dataset(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["datasetArn"]
        with answered():
            self.here(ctx).get("dataset", arn)
            busy = [
                j
                for j in self.here(ctx).list_of("datasetImportJob")
                if j.doc["datasetArn"] == arn and j.status in (PENDING, "CREATE IN_PROGRESS")
            ]
            if busy:
                raise InUse(f"The dataset {arn} has an import job pending or in progress.")
            self.here(ctx).delete(arn)
        return {}

    # import jobs
    def create_dataset_import_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["jobName"]
        location = (params.get("dataSource") or {}).get("dataLocation") or ""
        if not location.startswith("s3://") or len(location) <= 5:
            raise_invalid(f"The data location {location!r} must be an s3:// path to a CSV file or folder.")
        if params.get("publishAttributionMetricsToS3"):
            raise_invalid("Outcrop does not publish attribution metrics (publishAttributionMetricsToS3).")
        arn = ctx.arn("personalize", f"dataset-import-job/{name}")
        with answered():
            self.here(ctx).get("dataset", params["datasetArn"])
            doc = {
                "datasetArn": params["datasetArn"],
                "dataSource": {"dataLocation": location},
                "roleArn": params.get("roleArn"),
                "importMode": params.get("importMode") or "FULL",
                "tags": tags_of(params),
            }
            self.here(ctx).create("datasetImportJob", arn, name, params["datasetArn"], PENDING, doc)
        self.worker.submit(arn)
        return {"datasetImportJobArn": arn}

    def describe_dataset_import_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            return {
                "datasetImportJob": shaped(
                    self.here(ctx).get("datasetImportJob", params["datasetImportJobArn"])
                )
            }

    def list_dataset_import_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return listed(
            self.here(ctx), "datasetImportJob", params, "datasetImportJobs", params.get("datasetArn")
        )

    # event trackers
    def create_event_tracker(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, group = params["name"], params["datasetGroupArn"]
        tracking_id = str(uuid.uuid4())
        arn = ctx.arn("personalize", f"event-tracker/{uuid.uuid4().hex[:8]}")
        with answered():
            self.here(ctx).get("datasetGroup", group)
            if self.here(ctx).list_of("eventTracker", group):
                raise InUse(f"The dataset group {group} already has an event tracker.")
            doc = {
                "datasetGroupArn": group,
                "trackingId": tracking_id,
                "accountId": ctx.account_id,
                "tags": tags_of(params),
            }
            self.here(ctx).create("eventTracker", arn, name, group, ACTIVE, doc)
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    def describe_event_tracker(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            return {"eventTracker": shaped(self.here(ctx).get("eventTracker", params["eventTrackerArn"]))}

    def list_event_trackers(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return listed(self.here(ctx), "eventTracker", params, "eventTrackers", params.get("datasetGroupArn"))

    def delete_event_tracker(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            self.here(ctx).get("eventTracker", params["eventTrackerArn"])
        self.here(ctx).delete(params["eventTrackerArn"])
        return {}

    # filters
    def create_filter(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, group, expression = params["name"], params["datasetGroupArn"], params["filterExpression"]
        arn = ctx.arn("personalize", f"filter/{name}")
        with answered():
            self.here(ctx).get("datasetGroup", group)
            items = datasets_of(self.here(ctx), group).get("Items")
            fields = None
            if items:
                schema = self.here(ctx).get("schema", self.here(ctx).get("dataset", items).doc["schemaArn"])
                fields = parse_schema(schema.doc["schema"]).names
            filters.parse(expression, fields)
            doc = {
                "datasetGroupArn": group,
                "filterExpression": expression,
                "itemFields": fields,
                "tags": tags_of(params),
            }
            self.here(ctx).create("filter", arn, name, group, ACTIVE, doc)
        return {"filterArn": arn}

    def describe_filter(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            return {"filter": shaped(self.here(ctx).get("filter", params["filterArn"]))}

    def list_filters(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return listed(self.here(ctx), "filter", params, "Filters", params.get("datasetGroupArn"))

    def delete_filter(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            self.here(ctx).get("filter", params["filterArn"])
        self.here(ctx).delete(params["filterArn"])
        return {}


def raise_invalid(message: str) -> None:
    with answered():
        raise InvalidInput(message)


def _dataset_type(given: str) -> str:
    """Personalize takes the dataset type in any case (INTERACTIONS, Interactions)."""
    for kind in ("Interactions", "Items", "Users"):
        if given.lower() == kind.lower():
            return kind
    raise InvalidInput(f"The dataset type {given} is not one of Interactions, Items, Users.")


def _dataset_shape(body: dict[str, Any]) -> dict[str, Any]:
    """A dataset's stored name is made unique per group; its shape shows the name the caller gave."""
    if "name" in body:
        body["name"] = body["name"].split("\x00", 1)[0]
    return body


__all__ = ["DataOperations", "json"]
