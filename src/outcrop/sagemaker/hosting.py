"""The seam between the SageMaker control plane and the serving of endpoints.

CreateEndpoint/UpdateEndpoint/DeleteEndpoint (service `sagemaker`) call `deploy`, `update_weights` and
`undeploy`; InvokeEndpoint (service `sagemaker-runtime`) calls `invoke`. One `EndpointHosting` per server,
reached as `app.sagemaker_hosting`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outcrop.app import App


class HostingError(Exception):
    """A deployment that cannot start (bad model archive, script that fails to import): the endpoint fails."""


class ModelInvocationError(Exception):
    """The user's model raised while answering: InvokeEndpoint's ModelError, the endpoint keeps serving."""

    def __init__(self, message: str, *, status: int = 500, log_stream: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.log_stream = log_stream


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


@dataclass
class Invocation:
    """What InvokeEndpoint answers."""

    body: bytes
    content_type: str
    invoked_variant: str


class EndpointHosting:
    """Runs every InService endpoint: worker processes per variant, traffic split, metrics."""

    def __init__(self, app: App) -> None:
        self.app = app

    def deploy(self, endpoint_name: str, variants: list[VariantSpec]) -> None:
        """Start (or replace) the endpoint's workers; returns when they serve, raises HostingError if not."""
        raise NotImplementedError

    def update_weights(self, endpoint_name: str, weights: dict[str, float]) -> None:
        raise NotImplementedError

    def undeploy(self, endpoint_name: str) -> None:
        raise NotImplementedError

    def invoke(
        self,
        endpoint_name: str,
        body: bytes,
        *,
        content_type: str | None,
        accept: str | None,
        target_variant: str | None = None,
        target_model: str | None = None,
    ) -> Invocation:
        raise NotImplementedError

    def close(self) -> None:
        """Stop every worker (server shutdown)."""
