"""What the control plane hands the hosting seam for each production variant: `VariantSpec`.

Its own module so that the serving side (`serving.endpoint`) and the seam (`hosting`) both import it without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VariantSpec:
    """One production variant as the control plane resolved it from EndpointConfig + Model."""

    variant_name: str
    model_name: str
    image: str  # the container image URI; the framework (pytorch, sklearn, xgboost, ...) is read from it
    model_data_url: str | None  # s3://bucket/key/model.tar.gz, or an S3 prefix for multi-model endpoints
    environment: dict[str, str] = field(default_factory=dict)  # SAGEMAKER_PROGRAM, ..._SUBMIT_DIRECTORY
    initial_weight: float = 1.0
    multi_model: bool = False  # Model's PrimaryContainer Mode == "MultiModel"
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    role_arn: str = ""  # the model's ExecutionRoleArn: its workers' credentials under auth = "iam"
    endpoint_url: str | None = None  # where the workers' SDK calls go: the server that deployed them
