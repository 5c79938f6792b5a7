"""Asynchronous inference (InvokeEndpointAsync): the request is read from S3, answered in the background,
and the answer written to the endpoint configuration's S3OutputPath (or the error to S3FailurePath).

SageMaker names the objects `<InferenceId>.out` and `<InferenceId>-error.out`; the caller polls S3 for them.
SNS notifications are not sent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from outcrop.services.sagemaker.serving.archive import ArchiveMissing, parse_s3_url
from outcrop.storage.objects import ObjectAttributes, ObjectStore, StoreError

log = logging.getLogger("outcrop.sagemaker")

# (body, content type) -> (answer body, answer content type); raises what InvokeEndpoint raises
Answer = Callable[[bytes, str | None], tuple[bytes, str]]


@dataclass
class AsyncRequest:
    inference_id: str
    output_location: str
    failure_location: str


def _join(prefix: str, *names: str) -> str:
    return "/".join([prefix.rstrip("/"), *(n.strip("/") for n in names if n)])


class AsyncInvoker:
    """Runs asynchronous requests a few at a time; the endpoint's instances queue them as they do others."""

    def __init__(self, objects: ObjectStore, workers: int = 2) -> None:
        self.objects = objects
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sm-async")

    def submit(
        self,
        config: dict[str, Any],
        answer: Answer,
        *,
        input_location: str | None,
        body: bytes | None,
        content_type: str | None,
        inference_id: str | None,
        output_extension: str | None,
        filename: str | None,
    ) -> AsyncRequest:
        output = config.get("OutputConfig") or {}
        output_path = output.get("S3OutputPath") or output.get("S3FailurePath") or ""
        failure_path = output.get("S3FailurePath") or output_path
        identifier = inference_id or str(uuid.uuid4())
        request = AsyncRequest(
            identifier,
            _join(output_path, output_extension or "", filename or f"{identifier}.out"),
            _join(failure_path, output_extension or "", f"{identifier}-error.out"),
        )
        self._pool.submit(self._run, request, answer, input_location, body, content_type)
        return request

    def _run(
        self,
        request: AsyncRequest,
        answer: Answer,
        input_location: str | None,
        body: bytes | None,
        content_type: str | None,
    ) -> None:
        try:
            if body is None:
                body = self._read(input_location or "")
            data, response_type = answer(body, content_type)
            self._write(request.output_location, data, response_type)
        except Exception as exc:  # every failure of the request becomes its error object
            message = getattr(exc, "message", None) or str(exc)
            try:
                self._write(request.failure_location, message.encode(), "text/plain")
            except (StoreError, ArchiveMissing):
                log.exception("cannot write the failure of async inference %s", request.inference_id)

    def _read(self, location: str) -> bytes:
        bucket, key = parse_s3_url(location)
        try:
            return self.objects.read_object(bucket, key)
        except StoreError as exc:
            raise ArchiveMissing(f"Failed to download input data from {location}: {exc.message}") from exc

    def _write(self, location: str, data: bytes, content_type: str) -> None:
        bucket, key = parse_s3_url(location)
        self.objects.put_object(bucket, key, data, ObjectAttributes(content_type=content_type))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
