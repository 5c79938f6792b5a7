"""Amazon SageMaker Runtime: InvokeEndpoint and InvokeEndpointWithResponseStream on deployed endpoints.

The endpoint's worker processes (`outcrop.services.sagemaker.hosting`, passed in) run the user's inference
script; this module only translates: headers in, the invoked variant out, and the model server's failures as
the ModelError / ModelStreamError a SageMaker client expects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from outcrop.concurrency import iterate_in_thread, run_blocking
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext, Service
from outcrop.services.sagemaker.hosting import (
    EndpointHosting,
    InvocationRejected,
    ModelInvocationError,
    ModelNotReady,
    StreamedInvocation,
)


class ValidationError(ServiceError, service="sagemaker-runtime"): ...


class ModelError(ServiceError, service="sagemaker-runtime"): ...


class ModelNotReadyException(ServiceError, service="sagemaker-runtime"): ...


class ModelStreamError(ServiceError, service="sagemaker-runtime"): ...


def _model_error(ctx: RequestContext, endpoint: str, exc: ModelInvocationError) -> ModelError:
    side = "client" if 400 <= exc.status < 500 else "server"
    group = exc.log_stream or f"/aws/sagemaker/Endpoints/{endpoint}"
    message = (
        f'Received {side} error ({exc.status}) from primary with message "{exc.message}". See '
        f"https://{ctx.region}.console.aws.amazon.com/cloudwatch/home?region={ctx.region}"
        f"#logEventViewer:group={group} in account {ctx.account_id} for more information."
    )
    return ModelError(
        message,
        extra={
            "OriginalStatusCode": exc.status,
            "OriginalMessage": exc.message,
            "LogStreamArn": ctx.arn("logs", f"log-group:{group}"),
        },
    )


def _rejected(exc: InvocationRejected | ModelNotReady) -> ServiceError:
    if isinstance(exc, ModelNotReady):
        return ModelNotReadyException(str(exc))
    return ValidationError(str(exc))


class SageMakerRuntime(Service):
    service_name = "sagemaker-runtime"

    def __init__(self, *, sagemaker_hosting: EndpointHosting) -> None:
        """The endpoints this invokes are the ones the `sagemaker` service deploys into the same hosting."""
        self.hosting = sagemaker_hosting

    def _here(self, ctx: RequestContext, endpoint: str) -> str:
        """The endpoint's name, if it lives in the request's account and region: another region's endpoint
        is not found here, as on AWS (names are per region: the hosting is asked with `where`)."""
        if self.hosting.located(endpoint, where=(ctx.account_id, ctx.region)) is None:
            raise ValidationError(f"Endpoint {endpoint} of account {ctx.account_id} not found.")
        return endpoint

    def invoke_endpoint(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._here(ctx, params["EndpointName"])
        if params.get("InferenceComponentName"):
            raise ValidationError(
                "Inference components are not served by Outcrop: invoke the endpoint itself."
            )
        try:
            result = self.hosting.invoke(
                endpoint,
                bytes(params.get("Body") or b""),
                content_type=params.get("ContentType"),
                accept=params.get("Accept"),
                target_variant=params.get("TargetVariant"),
                target_model=params.get("TargetModel"),
                custom_attributes=params.get("CustomAttributes"),
                where=(ctx.account_id, ctx.region),
            )
        except (InvocationRejected, ModelNotReady) as exc:
            raise _rejected(exc) from exc
        except ModelInvocationError as exc:
            raise _model_error(ctx, endpoint, exc) from exc
        return {
            "Body": result.body,
            "ContentType": result.content_type,
            "InvokedProductionVariant": result.invoked_variant,
            "CustomAttributes": result.custom_attributes,
        }

    async def invoke_endpoint_with_response_stream(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        endpoint = await run_blocking(lambda: self._here(ctx, params["EndpointName"]))
        if params.get("InferenceComponentName"):
            raise ValidationError(
                "Inference components are not served by Outcrop: invoke the endpoint itself."
            )

        def start() -> StreamedInvocation:
            return self.hosting.invoke_stream(
                endpoint,
                bytes(params.get("Body") or b""),
                content_type=params.get("ContentType"),
                accept=params.get("Accept"),
                target_variant=params.get("TargetVariant"),
                custom_attributes=params.get("CustomAttributes"),
                where=(ctx.account_id, ctx.region),
            )

        try:
            streamed = await run_blocking(start)
        except (InvocationRejected, ModelNotReady) as exc:
            raise _rejected(exc) from exc
        except ModelInvocationError as exc:
            raise _model_error(ctx, endpoint, exc) from exc

        def parts() -> Iterator[bytes]:
            return streamed.parts

        async def events() -> AsyncIterator[tuple[str, dict[str, Any]]]:
            try:
                async for part in iterate_in_thread(parts, ctx.cancel):
                    if part:
                        yield "PayloadPart", {"Bytes": part}
            except ModelInvocationError as exc:
                raise ModelStreamError(
                    _model_error(ctx, endpoint, exc).message, extra={"ErrorCode": "StreamBroken"}
                ) from exc

        return {
            "Body": events(),
            "ContentType": streamed.content_type,
            "InvokedProductionVariant": streamed.invoked_variant,
            "CustomAttributes": streamed.custom_attributes,
        }

    def invoke_endpoint_async(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            request = self.hosting.invoke_async(
                self._here(ctx, params["EndpointName"]),
                input_location=params.get("InputLocation"),
                body=bytes(params["Body"]) if params.get("Body") is not None else None,
                content_type=params.get("ContentType"),
                accept=params.get("Accept"),
                custom_attributes=params.get("CustomAttributes"),
                inference_id=params.get("InferenceId"),
                output_extension=params.get("S3OutputPathExtension"),
                filename=params.get("Filename"),
                where=(ctx.account_id, ctx.region),
            )
        except (InvocationRejected, ModelNotReady) as exc:
            raise _rejected(exc) from exc
        return {
            "InferenceId": request.inference_id,
            "OutputLocation": request.output_location,
            "FailureLocation": request.failure_location,
        }
