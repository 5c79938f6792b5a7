"""Bedrock Runtime's StartAsyncInvoke, GetAsyncInvoke and ListAsyncInvokes, as the API shows them.

On AWS, asynchronous invocation serves video generation (Nova Reel) and video embeddings, which are not
served here: those ids are refused as InvokeModel refuses them. Any model this server does serve takes
its native InvokeModel body as `modelInput`; the body is checked at the start, run in the background
(`jobs.async_invokes`), and its response body written to `<s3Uri>/<invocation id>/output.json`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outcrop.inference import Inference
from outcrop.jobs.async_invokes import AsyncInvocation, AsyncInvocations, TokenReused
from outcrop.protocol.errors import ConflictException, ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.bedrock_runtime.invoke import check_body
from outcrop.services.paging import Pager
from outcrop.storage.objects import ObjectStore

_S3_URI = re.compile(r"s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?")  # the model's pattern
_PAGES = Pager(
    ValidationException, "The nextToken is not valid.", default=1000, token="nextToken", size="maxResults"
)


def _arn_prefix(ctx: RequestContext) -> str:
    """What the ARNs of the request's account's and region's invocations begin with: an invocation
    lives where it was started, and its ARN (kept since then) says where that is."""
    return ctx.arn("bedrock", "async-invoke/")


def _time(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


class AsyncInvokes:
    def __init__(self, *, inference: Inference, objects: ObjectStore, root: Path, workers: int) -> None:
        self._inference = inference
        self.invocations = AsyncInvocations(
            root / "async-invokes.sqlite3", objects=objects, inference=inference, workers=workers
        )
        self.invocations.resume()

    def close(self) -> None:
        self.invocations.close()

    def start(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        model = self._inference.resolve(params["modelId"])
        body = params["modelInput"]
        if not isinstance(body, dict):
            raise ValidationException(
                "Malformed input request: #: expected type: JSONObject, found: "
                f"{type(body).__name__}, please reformat your input and try again."
            )
        check_body(model, body)
        sink = (params.get("outputDataConfig") or {}).get("s3OutputDataConfig")
        if sink is None:
            raise ValidationException("outputDataConfig needs an s3OutputDataConfig.")
        if not _S3_URI.fullmatch(sink.get("s3Uri", "")):
            raise ValidationException(f"The s3Uri {sink.get('s3Uri')} is not an s3://bucket/prefix location.")
        if sink.get("kmsKeyId"):
            raise ValidationException(
                "kmsKeyId is not supported here: Outcrop does not encrypt outputs with KMS."
            )
        owner = sink.get("bucketOwner")
        if owner is not None and owner != ctx.account_id:
            raise ValidationException(
                f"The bucket owner {owner} is another account; this server holds {ctx.account_id}'s."
            )
        try:
            invocation = self.invocations.start(
                arn_prefix=_arn_prefix(ctx),
                model_id=params["modelId"],
                model_arn=model.arn(ctx.region),
                client_token=params.get("clientRequestToken"),
                principal=ctx.access_key,
                model_input=body,
                output_config=params["outputDataConfig"],
                tags=params.get("tags") or [],
            )
        except TokenReused as error:
            raise ConflictException(
                "The clientRequestToken was already used for a different request."
            ) from error
        return {"invocationArn": invocation.arn}

    def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["invocationArn"]
        invocation = self.invocations.get(arn.rpartition("/")[2])
        if invocation is None or not invocation.arn.startswith(
            _arn_prefix(ctx)
        ):  # made elsewhere  # the model gives GetAsyncInvoke no ResourceNotFoundException
            raise ValidationException(f"The invocation {arn} does not exist.")
        return _describe(invocation)

    def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        after, before = params.get("submitTimeAfter"), params.get("submitTimeBefore")
        status = params.get("statusEquals")
        here = _arn_prefix(ctx)
        found = [
            invocation
            for invocation in self.invocations.all()
            if invocation.arn.startswith(here)
            and (after is None or _time(invocation.submitted) > after)
            and (before is None or _time(invocation.submitted) < before)
            and (status is None or invocation.status == status)
        ]
        if params.get("sortOrder", "Descending") == "Descending":
            found.reverse()
        page, token = _PAGES.page(found, params)
        answer: dict[str, Any] = {"asyncInvokeSummaries": [_describe(invocation) for invocation in page]}
        if token:
            answer["nextToken"] = token
        return answer


def _describe(invocation: AsyncInvocation) -> dict[str, Any]:
    found: dict[str, Any] = {
        "invocationArn": invocation.arn,
        "modelArn": invocation.model_arn,
        "status": invocation.status,
        "submitTime": _time(invocation.submitted),
        "lastModifiedTime": _time(invocation.modified),
        "outputDataConfig": invocation.output_config,
    }
    if invocation.client_token:
        found["clientRequestToken"] = invocation.client_token
    if invocation.failure_message is not None:
        found["failureMessage"] = invocation.failure_message
    if invocation.ended is not None:
        found["endTime"] = _time(invocation.ended)
    return found
