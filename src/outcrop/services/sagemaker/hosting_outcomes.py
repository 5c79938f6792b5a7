"""What the hosting seam answers and raises, apart from `hosting.EndpointHosting` (which re-exports them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


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
