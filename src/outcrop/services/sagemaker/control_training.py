"""CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs and StopTrainingJob."""

from __future__ import annotations

import time
from typing import Any

from outcrop.protocol.errors import ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.sagemaker.control_common import (
    ControlPlane,
    ResourceInUse,
    ResourceNotFound,
    check_name,
    listed,
    output,
    request_stop,
)
from outcrop.services.sagemaker.control_unserved import TRAINING_JOB, refuse_unserved
from outcrop.services.sagemaker.store import AlreadyExists, Record
from outcrop.services.sagemaker.training import KIND

_REQUEST_MEMBERS = (
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "DebugHookConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ExperimentConfig",
    "ProfilerConfig",
    "Environment",
    "RetryStrategy",
    "RemoteDebugConfig",
    "InfraCheckConfig",
)
_DESCRIBE_MEMBERS = (
    "TrainingJobName",
    "TrainingJobArn",
    "ModelArtifacts",
    "SecondaryStatus",
    "FailureReason",
    *_REQUEST_MEMBERS,
    "TrainingStartTime",
    "TrainingEndTime",
    "SecondaryStatusTransitions",
    "FinalMetricDataList",
    "TrainingTimeInSeconds",
    "BillableTimeInSeconds",
)


class TrainingOperations(ControlPlane):
    def create_training_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["TrainingJobName"]
        check_name("TrainingJobName", name)
        refuse_unserved(params, TRAINING_JOB)
        arn = self.arn(ctx, f"training-job/{name.lower()}")
        algorithm = params.get("AlgorithmSpecification") or {}
        if not algorithm.get("TrainingImage") and not algorithm.get("AlgorithmName"):
            raise ValidationException(
                "AlgorithmSpecification must specify either TrainingImage or AlgorithmName."
            )
        for channel in params.get("InputDataConfig", []):
            if "S3DataSource" not in channel["DataSource"]:
                raise ValidationException(
                    f"Channel '{channel['ChannelName']}': Outcrop reads training input from S3 only."
                )
        names = [c["ChannelName"] for c in params.get("InputDataConfig", [])]
        if len(set(names)) != len(names):
            raise ValidationException("Channel names must be unique within InputDataConfig.")
        if not params["OutputDataConfig"]["S3OutputPath"].startswith("s3://"):
            raise ValidationException("OutputDataConfig.S3OutputPath must be an S3 URI (s3://bucket/prefix).")
        from outcrop.iam.execution import RoleNotAssumable

        try:
            self.training.check_role(params.get("RoleArn") or "")
        except RoleNotAssumable as exc:
            raise ValidationException(str(exc)) from exc
        now = time.time()
        body: dict[str, Any] = {
            "TrainingJobName": name,
            "TrainingJobArn": arn,
            **{k: params[k] for k in _REQUEST_MEMBERS if k in params},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
                **params.get("ResourceConfig", {}),
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400, **params.get("StoppingCondition", {})},
            # AWS describes these defaults even when a request leaves them out (the SDK's attach reads them).
            "OutputDataConfig": {"KmsKeyId": "", "CompressionType": "GZIP", **params["OutputDataConfig"]},
            "EnableNetworkIsolation": params.get("EnableNetworkIsolation", False),
            "EnableInterContainerTrafficEncryption": params.get(
                "EnableInterContainerTrafficEncryption", False
            ),
            "EnableManagedSpotTraining": params.get("EnableManagedSpotTraining", False),
            "ModelArtifacts": {"S3ModelArtifacts": ""},
            "SecondaryStatus": "Starting",
            "SecondaryStatusTransitions": [
                {"Status": "Starting", "StartTime": now, "StatusMessage": "Launching requested ML instances"}
            ],
            "_Region": ctx.region,
            "_Endpoint": ctx.base_url,
        }
        body["AlgorithmSpecification"] = {"TrainingInputMode": "File", **algorithm}
        try:
            self.store.insert(
                KIND, name, arn, "InProgress", body, params.get("Tags", []), where=self.where(ctx)
            )
        except AlreadyExists as exc:
            raise ResourceInUse(
                "Training job names must be unique within an AWS account and region, and a training job with "
                f"this name already exists ({arn})"
            ) from exc
        self.training.start(name, where=self.where(ctx))
        return {"TrainingJobArn": arn}

    def _training_job(self, ctx: RequestContext, name: str) -> Record:
        record = self.store.get(KIND, name, where=self.where(ctx))
        if record is None:
            raise ResourceNotFound("Requested resource not found.")
        return record

    def describe_training_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._training_job(ctx, params["TrainingJobName"])
        return {
            **output(record.body, _DESCRIBE_MEMBERS),
            "TrainingJobStatus": record.status,
            "CreationTime": record.created,
            "LastModifiedTime": record.modified,
        }

    def list_training_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def summary(record: Record) -> dict[str, Any]:
            return {
                "TrainingJobName": record.name,
                "TrainingJobArn": record.arn,
                "CreationTime": record.created,
                "TrainingEndTime": record.body.get("TrainingEndTime"),
                "LastModifiedTime": record.modified,
                "TrainingJobStatus": record.status,
                "SecondaryStatus": record.body.get("SecondaryStatus"),
            }

        # No job here keeps a warm pool or runs on a training plan: those filters match none.
        unmatched = bool(params.get("WarmPoolStatusEquals") or params.get("TrainingPlanArnEquals"))
        summaries, token = listed(
            self.store.records(KIND, where=self.where(ctx)),
            params,
            summary,
            status_key="TrainingJobStatus",
            keep=lambda _: not unmatched,
        )
        return {"TrainingJobSummaries": summaries, "NextToken": token}

    def stop_training_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["TrainingJobName"]
        record = self._training_job(ctx, name)
        now = time.time()

        def stopping(r: Record) -> None:
            transitions = r.body.setdefault("SecondaryStatusTransitions", [])
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1]["EndTime"] = now
            transitions.append(
                {"Status": "Stopping", "StartTime": now, "StatusMessage": "Stopping the training job"}
            )
            r.body["SecondaryStatus"] = "Stopping"

        request_stop(self.store, KIND, record, "training job", stopping)
        self.training.stop(name, where=record.where)
        return {}
