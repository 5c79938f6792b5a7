"""CreateTransformJob, DescribeTransformJob, ListTransformJobs and StopTransformJob."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from outcrop.protocol.errors import ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.sagemaker.control_common import (
    ControlPlane,
    ResourceNotFound,
    check_name,
    listed,
    not_found,
    output,
    request_stop,
)
from outcrop.services.sagemaker.control_registry import PACKAGE
from outcrop.services.sagemaker.serving.spec import VariantSpec
from outcrop.services.sagemaker.store import Record
from outcrop.services.sagemaker.transform import KIND

if TYPE_CHECKING:
    from outcrop.services.sagemaker.transform import TransformRunner

MODEL = "model"  # the kind control_endpoints stores models under
_REQUEST_MEMBERS = (
    "ModelName",
    "MaxConcurrentTransforms",
    "ModelClientConfig",
    "MaxPayloadInMB",
    "BatchStrategy",
    "Environment",
    "TransformInput",
    "TransformOutput",
    "TransformResources",
    "DataProcessing",
    "ExperimentConfig",
)
_DESCRIBE_MEMBERS = (
    "TransformJobName",
    "TransformJobArn",
    "FailureReason",
    *_REQUEST_MEMBERS,
    "TransformStartTime",
    "TransformEndTime",
)


def _check_request(params: dict[str, Any]) -> None:
    """What Outcrop cannot honour is refused here."""
    transform_input = params["TransformInput"]
    if "S3DataSource" not in transform_input["DataSource"]:
        raise ValidationException("TransformInput.DataSource: Outcrop reads transform input from S3 only.")
    if not transform_input["DataSource"]["S3DataSource"]["S3Uri"].startswith("s3://"):
        raise ValidationException("TransformInput S3Uri must be an S3 URI (s3://bucket/prefix).")
    split = transform_input.get("SplitType", "None")
    if split not in ("None", "Line"):
        raise ValidationException(f"SplitType {split} is not supported here; use Line or None.")
    if not params["TransformOutput"]["S3OutputPath"].startswith("s3://"):
        raise ValidationException("TransformOutput.S3OutputPath must be an S3 URI (s3://bucket/prefix).")
    payload = int(params.get("MaxPayloadInMB", 6))
    concurrent = int(params.get("MaxConcurrentTransforms", 1) or 1)
    if payload > 100 or concurrent * payload > 100:
        raise ValidationException(
            "MaxPayloadInMB cannot be greater than 100 MB, and MaxConcurrentTransforms * MaxPayloadInMB "
            f"cannot exceed 100 MB (got {concurrent} * {payload})."
        )
    processing = params.get("DataProcessing") or {}
    if processing.get("InputFilter", "$") != "$" or processing.get("OutputFilter", "$") != "$":
        raise ValidationException(
            "DataProcessing InputFilter and OutputFilter are not supported here; use '$'."
        )
    if processing.get("JoinSource", "None") != "None":
        raise ValidationException("DataProcessing JoinSource Input is not supported here; use None.")
    if params.get("DataCaptureConfig"):
        raise ValidationException("DataCaptureConfig is not supported here.")


class TransformOperations(ControlPlane):
    transform: TransformRunner

    def _transform_variant(self, ctx: RequestContext, model_name: str, params: dict[str, Any]) -> VariantSpec:
        """The model's container resolved (through its model package, if it names one) as hosting runs it."""
        model = self.store.get(MODEL, model_name, where=self.where(ctx))
        if model is None:
            raise not_found("model", self.arn(ctx, f"model/{model_name.lower()}"))
        container = dict(model.body.get("PrimaryContainer") or (model.body.get("Containers") or [{}])[0])
        package = container.get("ModelPackageName")
        if package:
            record = self.store.by_arn(package, where=self.where(ctx)) or self.store.get(
                PACKAGE, package, where=self.where(ctx)
            )
            containers = record.body.get("InferenceSpecification", {}).get("Containers", []) if record else []
            if not containers:
                raise ValidationException(f"ModelPackage {package} has no InferenceSpecification containers.")
            container = {**containers[0], **container}
        if container.get("Mode") == "MultiModel":
            raise ValidationException(
                f"Model {model_name} is a multi-model container; transform needs one model."
            )
        resources = params["TransformResources"]
        return VariantSpec(
            variant_name="transform",
            model_name=model_name,
            image=container.get("Image", ""),
            model_data_url=container.get("ModelDataUrl"),
            environment=dict(container.get("Environment", {})),
            instance_type=resources["InstanceType"],
            instance_count=int(resources["InstanceCount"]),
        )

    def create_transform_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["TransformJobName"]
        check_name("TransformJobName", name)
        _check_request(params)
        variant = self._transform_variant(ctx, params["ModelName"], params)
        arn = self.arn(ctx, f"transform-job/{name.lower()}")
        transform_input = params["TransformInput"]
        body: dict[str, Any] = {
            "TransformJobName": name,
            "TransformJobArn": arn,
            **{k: params[k] for k in _REQUEST_MEMBERS if k in params},
            "TransformInput": {"CompressionType": "None", "SplitType": "None", **transform_input},
            "_Variant": asdict(variant),
        }
        self.insert_job(ctx, KIND, name, arn, body, params.get("Tags", []))
        self.transform.start(name, self.where(ctx))
        return {"TransformJobArn": arn}

    def _transform_job(self, ctx: RequestContext, name: str) -> Record:
        record = self.store.get(KIND, name, where=self.where(ctx))
        if record is None:
            arn = self.arn(ctx, f"transform-job/{name.lower()}")
            raise ResourceNotFound(f"Could not find job to update with name {arn}")
        return record

    def describe_transform_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._transform_job(ctx, params["TransformJobName"])
        return {
            **output(record.body, _DESCRIBE_MEMBERS),
            "TransformJobStatus": record.status,
            "CreationTime": record.created,
        }

    def list_transform_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def summary(record: Record) -> dict[str, Any]:
            return {
                "TransformJobName": record.name,
                "TransformJobArn": record.arn,
                "CreationTime": record.created,
                "TransformEndTime": record.body.get("TransformEndTime"),
                "LastModifiedTime": record.modified,
                "TransformJobStatus": record.status,
                "FailureReason": record.body.get("FailureReason"),
            }

        summaries, token = listed(
            self.store.records(KIND, where=self.where(ctx)), params, summary, status_key="TransformJobStatus"
        )
        return {"TransformJobSummaries": summaries, "NextToken": token}

    def stop_transform_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._transform_job(ctx, params["TransformJobName"])

        request_stop(self.store, KIND, record, "transform job")
        self.transform.stop(record.name, record.where)
        return {}
