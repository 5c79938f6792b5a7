"""Dataset export jobs (a dataset's rows to CSV in S3) and data deletion jobs (users out of a group)."""

from __future__ import annotations

from typing import Any

from outcrop.personalize.datajobs import DEFAULT_INGESTION_MODE, DELETION_STATES, SOURCES
from outcrop.personalize.errors import InvalidInput, LimitExceeded
from outcrop.personalize.jobs import PENDING
from outcrop.services.base import RequestContext
from outcrop.services.personalize._common import Operations, answered, listed, shaped, tags_of

MAX_PENDING_DELETIONS = 5  # AWS's limit of PENDING data deletion jobs per dataset group


class DataJobOperations(Operations):
    # dataset export jobs
    def create_dataset_export_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["jobName"]
        mode = params.get("ingestionMode") or DEFAULT_INGESTION_MODE
        destination = dict((params.get("jobOutput") or {}).get("s3DataDestination") or {})
        arn = ctx.arn("personalize", f"dataset-export-job/{name}")
        store = self.here(ctx)
        with answered():
            if mode not in SOURCES:
                raise InvalidInput(f"The ingestion mode {mode} is not one of {', '.join(SOURCES)}.")
            _s3_path(destination.get("path"), "jobOutput.s3DataDestination.path")
            if destination.get("kmsKeyArn"):
                raise InvalidInput("Outcrop does not encrypt exported data with a KMS key (kmsKeyArn).")
            dataset = store.get("dataset", params["datasetArn"])
            doc = {
                "datasetArn": dataset.arn,
                "ingestionMode": mode,
                "roleArn": params["roleArn"],
                "jobOutput": {"s3DataDestination": destination},
                "tags": tags_of(params),
            }
            store.create("datasetExportJob", arn, name, dataset.arn, PENDING, doc)
        self.worker.submit(arn)
        return {"datasetExportJobArn": arn}

    def describe_dataset_export_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            job = self.here(ctx).get("datasetExportJob", params["datasetExportJobArn"])
        return {"datasetExportJob": shaped(job)}

    def list_dataset_export_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        store, parent = self.here(ctx), params.get("datasetArn")
        return listed(store, "datasetExportJob", params, "datasetExportJobs", parent)

    # data deletion jobs
    def create_data_deletion_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["jobName"]
        location = (params.get("dataSource") or {}).get("dataLocation")
        arn = ctx.arn("personalize", f"data-deletion-job/{name}")
        store = self.here(ctx)
        pending = DELETION_STATES[0]
        with answered():
            _s3_path(location, "dataSource.dataLocation")
            group = store.get("datasetGroup", params["datasetGroupArn"])
            if len(store.list_of("dataDeletionJob", group.arn, (pending,))) >= MAX_PENDING_DELETIONS:
                raise LimitExceeded(
                    f"The dataset group {group.arn} already has {MAX_PENDING_DELETIONS} data deletion jobs"
                    " PENDING."
                )
            doc = {
                "datasetGroupArn": group.arn,
                "dataSource": {"dataLocation": location},
                "roleArn": params["roleArn"],
                "tags": tags_of(params),
            }
            store.create("dataDeletionJob", arn, name, group.arn, pending, doc)
        self.worker.submit(arn)
        return {"dataDeletionJobArn": arn}

    def describe_data_deletion_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            job = self.here(ctx).get("dataDeletionJob", params["dataDeletionJobArn"])
        return {"dataDeletionJob": shaped(job)}

    def list_data_deletion_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        store, parent = self.here(ctx), params.get("datasetGroupArn")
        return listed(store, "dataDeletionJob", params, "dataDeletionJobs", parent)


def _s3_path(path: str | None, member: str) -> None:
    """Outcrop reads and writes S3 through its own store: s3:// paths only."""
    if not path or not path.startswith("s3://") or len(path) <= len("s3://"):
        raise InvalidInput(f"{member} {path!r} must be an s3:// path.")
