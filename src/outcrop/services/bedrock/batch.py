"""Bedrock batch inference jobs as the control plane shows them: Create, Get, List and Stop.

The `Bedrock` service's methods hand their input here; the work itself runs in `jobs.batch_inference`.
Options Outcrop cannot honour (a VPC, KMS keys, another account's bucket) are refused, never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outcrop.catalog import BedrockModel, Catalog
from outcrop.config import Settings
from outcrop.guardrails.enforce import GuardrailEngine
from outcrop.inference import Inference
from outcrop.jobs.batch_inference import BatchRunner
from outcrop.jobs.batch_store import BatchJob, BatchJobStore, NameTaken, TokenReused
from outcrop.protocol.errors import ConflictException, ResourceNotFoundException, ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.paging import Pager
from outcrop.storage.objects import ObjectStore

DEFAULT_TIMEOUT_HOURS = 24
_S3_URI = re.compile(r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+)*/?")  # the model's
_JOB_NAME = re.compile(r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}")  # the model's pattern

_PAGES = Pager(
    ValidationException, "The nextToken is not valid.", default=1000, token="nextToken", size="maxResults"
)


def _arn_prefix(ctx: RequestContext) -> str:
    """What the ARNs of the request's account's and region's jobs begin with: a job lives where it was
    made, and its ARN (kept since the job was made) says where that is."""
    return ctx.arn("bedrock", "model-invocation-job/")


def _time(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def decode_slots(catalog: Catalog, settings: Settings) -> Callable[[BedrockModel], int]:
    """How many of a model's requests to keep in flight for throughput: the sequences its backend decodes
    together (`parallel` in its catalog entry, else the server's `llm_parallel`)."""

    def slots(model: BedrockModel) -> int:
        return int(catalog.local.get(model.local, {}).get("parallel", settings.llm_parallel))

    return slots


class BatchJobs:
    def __init__(
        self,
        *,
        inference: Inference,
        objects: ObjectStore,
        guardrails: GuardrailEngine,
        root: Path,
        parallel: Callable[[BedrockModel], int],
    ) -> None:
        self._inference = inference
        self.store = BatchJobStore(root / "jobs.sqlite3")
        self.runner = BatchRunner(
            self.store,
            objects=objects,
            inference=inference,
            guardrails=guardrails,  # records naming a guardrail are screened (jobs.batch_guard)
            staging=root / "staging",
            parallel=parallel,
        )
        self.runner.resume()

    def close(self) -> None:
        self.runner.close()
        self.store.close()

    def create(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._refuse_unservable(ctx, params)
        model = self._inference.resolve(params["modelId"])
        if params.get("modelInvocationType") == "Converse" and model.kind != "chat":
            raise ValidationException(
                f"The model {model.model_id} is an embedding model and does not support Converse."
            )
        request = {key: value for key, value in params.items() if key != "clientRequestToken"}
        try:
            job, created = self.store.create(
                arn_prefix=_arn_prefix(ctx),
                name=params["jobName"],
                model_id=params["modelId"],
                client_token=params.get("clientRequestToken"),
                principal=ctx.access_key,
                request=request,
                timeout_hours=params.get("timeoutDurationInHours") or DEFAULT_TIMEOUT_HOURS,
            )
        except TokenReused as error:
            raise ConflictException(
                "The clientRequestToken was already used for a different request."
            ) from error
        except NameTaken as error:
            raise ConflictException(
                f"A batch inference job named {params['jobName']} already exists."
            ) from error
        if created:
            self.runner.submit(job.job_id)
        return {"jobArn": job.arn}

    def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._describe(self._find(ctx, params["jobIdentifier"]))

    def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        after, before = params.get("submitTimeAfter"), params.get("submitTimeBefore")
        status, name = params.get("statusEquals"), params.get("nameContains")
        here = _arn_prefix(ctx)
        jobs = [
            job
            for job in self.store.all()
            if job.arn.startswith(here)
            and (after is None or _time(job.submitted) > after)
            and (before is None or _time(job.submitted) < before)
            and (status is None or job.status == status)
            and (name is None or name in job.name)
        ]
        if params.get("sortOrder", "Descending") == "Descending":
            jobs.reverse()
        page, token = _PAGES.page(jobs, params)
        answer: dict[str, Any] = {"invocationJobSummaries": [self._describe(job) for job in page]}
        if token:
            answer["nextToken"] = token
        return answer

    def stop(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        job = self._find(ctx, params["jobIdentifier"])
        if not self.runner.stop(job.job_id):
            raise ConflictException(
                f"The job {job.job_id} is {job.status}; only a running job can be stopped."
            )
        return {}

    # -- helpers ---------------------------------------------------------------------------------------------

    @staticmethod
    def _refuse_unservable(ctx: RequestContext, params: dict[str, Any]) -> None:
        """Bad names and the options Outcrop cannot honour, before a job exists."""
        if not _JOB_NAME.fullmatch(params["jobName"]):
            raise ValidationException(
                f"1 validation error detected: Value '{params['jobName']}' at 'jobName' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: {_JOB_NAME.pattern}"
            )
        if params.get("vpcConfig"):
            raise ValidationException(
                "vpcConfig is not supported here: Outcrop's batch jobs read and write its own S3 store."
            )
        source = (params.get("inputDataConfig") or {}).get("s3InputDataConfig")
        sink = (params.get("outputDataConfig") or {}).get("s3OutputDataConfig")
        if source is None or sink is None:
            raise ValidationException("inputDataConfig and outputDataConfig each need an S3 location.")
        for uri in (source.get("s3Uri", ""), sink.get("s3Uri", "")):
            if not _S3_URI.fullmatch(uri):
                raise ValidationException(f"The s3Uri {uri} is not an s3://bucket/prefix location.")
        if sink.get("s3EncryptionKeyId"):
            raise ValidationException(
                "s3EncryptionKeyId is not supported here: Outcrop does not encrypt batch outputs with KMS."
            )
        for owner in (source.get("s3BucketOwner"), sink.get("s3BucketOwner")):
            if owner is not None and owner != ctx.account_id:
                raise ValidationException(
                    f"The bucket owner {owner} is another account; this server holds {ctx.account_id}'s."
                )

    def _find(self, ctx: RequestContext, identifier: str) -> BatchJob:
        """A job of the request's account and region, by id or ARN (a job's ARN is where it lives)."""
        job = self.store.get(identifier.rpartition("/")[2])
        if job is None or not job.arn.startswith(_arn_prefix(ctx)):
            raise ResourceNotFoundException(f"The batch inference job {identifier} could not be found.")
        return job

    @staticmethod
    def _describe(job: BatchJob) -> dict[str, Any]:
        request = job.request
        found: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "modelId": job.model_id,
            "roleArn": request["roleArn"],
            "status": job.status,
            "submitTime": _time(job.submitted),
            "lastModifiedTime": _time(job.modified),
            "inputDataConfig": request["inputDataConfig"],
            "outputDataConfig": request["outputDataConfig"],
            "timeoutDurationInHours": request.get("timeoutDurationInHours") or DEFAULT_TIMEOUT_HOURS,
            "jobExpirationTime": _time(job.expires),
            "modelInvocationType": request.get("modelInvocationType", "InvokeModel"),
            "processedRecordCount": job.counts.processed,
            "successRecordCount": job.counts.succeeded,
            "errorRecordCount": job.counts.failed,
        }
        if job.client_token:
            found["clientRequestToken"] = job.client_token
        if job.message:
            found["message"] = job.message
        if job.ended is not None:
            found["endTime"] = _time(job.ended)
        if job.counts.total is not None:
            found["totalRecordCount"] = job.counts.total
        return found
