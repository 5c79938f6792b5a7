"""SageMaker request members Outcrop cannot honour: refused by name with ValidationException, never
accepted and ignored. A member set to its default or an empty value asks for nothing and is accepted,
since the SageMaker Python SDK sends several that way (an empty ProfilerRuleConfigurations, a
DataCaptureConfig with EnableCapture false)."""

from __future__ import annotations

from typing import Any

from outcrop.protocol.errors import ValidationException
from outcrop.services import unserved as shared
from outcrop.services.unserved import asks_for

Params = dict[str, Any]

ENDPOINT_CONFIG = {
    "ExplainerConfig": "online explainability (SageMaker Clarify) is not served",
    "ShadowProductionVariants": "shadow variants are not served",
    "MetricsConfig": "enhanced endpoint metrics are not served",
    "CrossRegionTrafficConfig": "endpoints serve one Region only",
    "DataCaptureConfig": "data capture is not served",
    "KmsKeyId": "endpoints have no ML storage volume to encrypt with a customer managed key",
    "VpcConfig": "endpoints run on this server, not in a VPC",
}
MODEL_MEMBERS = {
    "VpcConfig": "model servers run on this server, not in a VPC",
    "EnableNetworkIsolation": "model servers are not cut off from the network",
}
TRAINING_JOB = {
    "ProfilerRuleConfigurations": "SageMaker Debugger profiling rules are not served",
    "ServerlessJobConfig": "serverless (foundation model customization) training is not served",
    "MlflowConfig": "SageMaker managed MLflow is not served",
    "ModelPackageConfig": "a training job does not register a model package here: call CreateModelPackage",
    "SessionChainingConfig": "session tag chaining is not served",
    "EnableManagedSpotTraining": "jobs run on this server, not on Spot capacity",
    "CheckpointConfig": "checkpoints are not synced to S3",
    "VpcConfig": "jobs run on this server, not in a VPC",
    "EnableNetworkIsolation": "the job's process is not cut off from the network",
}
MODEL_PACKAGE = {"ManagedStorageType": "restricted (managed) storage is not served"}
MODEL_PACKAGE_GROUP = {"ManagedConfiguration": "restricted (managed) storage is not served"}
PIPELINE_MEMBERS = {"PipelineVersionAliases": "pipeline version aliases are not served"}


def _asks(name: str, value: Any) -> bool:
    """Whether a value asks for something: its defaults and empty values do not."""
    if name == "DataCaptureConfig":
        return bool(value.get("EnableCapture", True))
    if name == "SessionChainingConfig":
        return bool(value.get("EnableSessionTagChaining"))
    if name == "MetricsConfig":
        return bool(value.get("EnableEnhancedMetrics") or value.get("EnableDetailedObservability"))
    if name == "VpcConfig":
        return bool(value.get("Subnets") or value.get("SecurityGroupIds"))
    return asks_for(value)


def refuse_unserved(params: Params, members: dict[str, str]) -> None:
    """ValidationException naming the first member of `members` that asks for what Outcrop cannot do."""
    shared.refuse_unserved(params, members, ValidationException, _asks)


def retained(
    params: Params, weights: dict[str, float], counts: dict[str, int]
) -> tuple[dict[str, float], dict[str, int]]:
    """The variant weights and instance counts an UpdateEndpoint keeps from the running endpoint: all of
    them with RetainAllVariantProperties, less those ExcludeRetainedVariantProperties names; none without."""
    if not params.get("RetainAllVariantProperties"):
        return {}, {}
    excluded = {p["VariantPropertyType"] for p in params.get("ExcludeRetainedVariantProperties") or []}
    return (
        {} if "DesiredWeight" in excluded else dict(weights),
        {} if "DesiredInstanceCount" in excluded else dict(counts),
    )
