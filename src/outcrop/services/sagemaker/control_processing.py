"""CreateProcessingJob, DescribeProcessingJob, ListProcessingJobs and StopProcessingJob."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from outcrop.protocol.errors import ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.sagemaker.control_common import (
    ControlPlane,
    ResourceNotFound,
    check_name,
    listed,
    output,
    request_stop,
)
from outcrop.services.sagemaker.processing import KIND, PROCESSING_ROOT
from outcrop.services.sagemaker.store import Record

if TYPE_CHECKING:
    from outcrop.services.sagemaker.processing import ProcessingRunner

_REQUEST_MEMBERS = (
    "ProcessingInputs",
    "ProcessingOutputConfig",
    "ProcessingResources",
    "StoppingCondition",
    "AppSpecification",
    "Environment",
    "NetworkConfig",
    "RoleArn",
    "ExperimentConfig",
)
_DESCRIBE_MEMBERS = (
    "ProcessingJobName",
    "ProcessingJobArn",
    *_REQUEST_MEMBERS,
    "ExitMessage",
    "FailureReason",
    "ProcessingStartTime",
    "ProcessingEndTime",
)


def _check_local_path(where: str, path: str) -> None:
    if not (path + "/").startswith(PROCESSING_ROOT + "/") or "/../" in path + "/":
        raise ValidationException(f"{where}: LocalPath {path!r} must be a path under {PROCESSING_ROOT}/.")


def _check_request(params: dict[str, Any]) -> None:
    """What Outcrop cannot honour is refused here, naming the input or output."""
    names: list[str] = []
    for item in params.get("ProcessingInputs", []):
        name = item["InputName"]
        names.append(name)
        source = item.get("S3Input")
        if source is None:
            raise ValidationException(
                f"ProcessingInput '{name}': Outcrop reads processing inputs from S3Input only "
                "(DatasetDefinition queries Athena or Redshift)."
            )
        _check_local_path(f"ProcessingInput '{name}'", source.get("LocalPath", ""))
        if source.get("S3InputMode", "File") != "File":
            raise ValidationException(
                f"ProcessingInput '{name}': S3InputMode Pipe is not supported here; use File."
            )
        if source.get("S3CompressionType", "None") != "None":
            raise ValidationException(
                f"ProcessingInput '{name}': S3CompressionType Gzip applies to Pipe mode only; use None."
            )
        if not str(source.get("S3Uri", "")).startswith("s3://"):
            raise ValidationException(
                f"ProcessingInput '{name}': S3Uri must be an S3 URI (s3://bucket/prefix)."
            )
    outputs = params.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for item in outputs:
        name = item["OutputName"]
        names.append(name)
        target = item.get("S3Output")
        if target is None:
            raise ValidationException(
                f"ProcessingOutput '{name}': Outcrop writes processing outputs to S3Output only."
            )
        _check_local_path(f"ProcessingOutput '{name}'", target.get("LocalPath", ""))
        if target.get("S3UploadMode", "EndOfJob") != "EndOfJob":
            raise ValidationException(
                f"ProcessingOutput '{name}': S3UploadMode Continuous is not supported here; use EndOfJob."
            )
        if not str(target.get("S3Uri", "")).startswith("s3://"):
            raise ValidationException(
                f"ProcessingOutput '{name}': S3Uri must be an S3 URI (s3://bucket/prefix)."
            )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationException(
            f"Input and output names must be unique within a processing job: {', '.join(duplicates)}."
        )
    cluster = params.get("ProcessingResources", {}).get("ClusterConfig", {})
    if cluster.get("InstanceCount") != 1:
        raise ValidationException(
            f"ProcessingResources.ClusterConfig.InstanceCount {cluster.get('InstanceCount')}: Outcrop runs a "
            "processing job on one instance; use 1."
        )
    if not cluster.get("InstanceType"):  # optional in the model (InstanceGroups may stand in), needed here
        raise ValidationException(
            "ProcessingResources.ClusterConfig.InstanceType is required: Outcrop sizes the job by it."
        )


class ProcessingOperations(ControlPlane):
    processing: ProcessingRunner

    def create_processing_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ProcessingJobName"]
        check_name("ProcessingJobName", name)
        _check_request(params)
        from outcrop.iam.execution import RoleNotAssumable

        try:
            self.processing.check_role(params.get("RoleArn") or "")
        except RoleNotAssumable as exc:
            raise ValidationException(str(exc)) from exc
        arn = self.arn(ctx, f"processing-job/{name.lower()}")
        body: dict[str, Any] = {
            "ProcessingJobName": name,
            "ProcessingJobArn": arn,
            **{k: params[k] for k in _REQUEST_MEMBERS if k in params},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400, **params.get("StoppingCondition", {})},
            "_Region": ctx.region,
            "_Endpoint": ctx.base_url,
        }
        self.insert_job(ctx, KIND, name, arn, body, params.get("Tags", []))
        self.processing.start(name, where=self.where(ctx))
        return {"ProcessingJobArn": arn}

    def _processing_job(self, ctx: RequestContext, name: str) -> Record:
        record = self.store.get(KIND, name, where=self.where(ctx))
        if record is None:
            arn = self.arn(ctx, f"processing-job/{name.lower()}")
            raise ResourceNotFound(f"Processing job {arn} does not exist.")
        return record

    def describe_processing_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._processing_job(ctx, params["ProcessingJobName"])
        return {
            **output(record.body, _DESCRIBE_MEMBERS),
            "ProcessingJobStatus": record.status,
            "CreationTime": record.created,
            "LastModifiedTime": record.modified,
        }

    def list_processing_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def summary(record: Record) -> dict[str, Any]:
            return {
                "ProcessingJobName": record.name,
                "ProcessingJobArn": record.arn,
                "CreationTime": record.created,
                "ProcessingEndTime": record.body.get("ProcessingEndTime"),
                "LastModifiedTime": record.modified,
                "ProcessingJobStatus": record.status,
                "FailureReason": record.body.get("FailureReason"),
                "ExitMessage": record.body.get("ExitMessage"),
            }

        summaries, token = listed(
            self.store.records(KIND, where=self.where(ctx)), params, summary, status_key="ProcessingJobStatus"
        )
        return {"ProcessingJobSummaries": summaries, "NextToken": token}

    def stop_processing_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._processing_job(ctx, params["ProcessingJobName"])

        def mark(r: Record) -> None:
            r.body["_StopRequested"] = time.time()

        request_stop(self.store, KIND, record, "processing job", mark)
        self.processing.stop(record.name, where=record.where)
        return {}
