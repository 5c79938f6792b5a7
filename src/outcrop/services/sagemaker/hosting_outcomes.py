"""What the hosting seam answers and raises, apart from `hosting.EndpointHosting` (which re-exports them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from outcrop.services.sagemaker.serving.process import WorkerFailed


class HostingError(Exception):
    """A deployment that cannot start (bad model archive, script that fails to import): the endpoint fails."""


class ModelInvocationError(Exception):
    """The user's model raised while answering: InvokeEndpoint's ModelError, the endpoint keeps serving.

    `message` is what the model server answered (ModelError's OriginalMessage), `status` its HTTP status,
    `log_stream` the CloudWatch Logs group holding the worker's output.
    """

    def __init__(self, message: str, *, status: int = 500, log_stream: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.log_stream = log_stream


class InvocationRejected(Exception):
    """The request names no deployed endpoint, variant or model: InvokeEndpoint's ValidationError."""


class ModelNotReady(Exception):
    """The endpoint's model server is loading or restarting: ModelNotReadyException."""


@dataclass
class Invocation:
    """What InvokeEndpoint answers."""

    body: bytes
    content_type: str
    invoked_variant: str
    custom_attributes: str | None = None  # what the model set (X-Amzn-SageMaker-Custom-Attributes)


@dataclass
class StreamedInvocation:
    """What InvokeEndpointWithResponseStream answers: the parts come as the model yields them."""

    content_type: str
    invoked_variant: str
    parts: Iterator[bytes]
    custom_attributes: str | None = None


def log_group_of(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def invoke_header(
    content_type: str | None, accept: str | None, custom_attributes: str | None, target_model: str | None
) -> dict[str, object]:
    """The header of one invocation as the worker reads it."""
    return {
        "op": "invoke",
        "content_type": content_type,
        "accept": accept,
        "custom_attributes": custom_attributes,
        "model": target_model,
    }


def model_error(endpoint_name: str, exc: WorkerFailed, *, loading: str | None = None) -> Exception:
    """What a worker's failure is to the caller: not ready (503 from a live worker), else a ModelError."""
    if exc.status == 503 and not exc.died:
        return ModelNotReady(exc.message)
    kind = "InternalServerException" if exc.status >= 500 else "BadRequestException"
    message = f"Failed to load model {loading}: {exc.message}" if loading else exc.message
    original = json.dumps({"code": exc.status, "type": kind, "message": message}, indent=2)
    return ModelInvocationError(original, status=exc.status, log_stream=log_group_of(endpoint_name))
