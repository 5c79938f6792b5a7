"""SageMaker Pipelines: pipelines (definitions, versions) and their executions and steps.

A definition is checked when it is stored (`pipeline_definition.parse`), so what the SDK's `upsert()` sends
either runs or is refused with the step at fault named. Executions run in `pipeline_runner`; their steps
call this service's own operations (CreateTrainingJob, CreateModel, CreateModelPackage...), and Lambda steps
run on the local Lambda runtime.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from typing import TYPE_CHECKING, Any

from outcrop.protocol.errors import ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.sagemaker.control_common import (
    Conflict,
    ControlPlane,
    ResourceNotFound,
    check_name,
    listed,
)
from outcrop.services.sagemaker.control_unserved import PIPELINE_MEMBERS, refuse_unserved
from outcrop.services.sagemaker.pipeline_definition import (
    Resolver,
    StepFailed,
    parameter_values,
    parse,
)
from outcrop.services.sagemaker.pipeline_runner import DONE, EXECUTION, PipelineRunner
from outcrop.services.sagemaker.pipeline_steps import StepRunner
from outcrop.services.sagemaker.store import AlreadyExists, Record

if TYPE_CHECKING:
    from outcrop.lambdas.registry import FunctionRegistry

PIPELINE = "pipeline"
_ALPHABET = string.ascii_lowercase + string.digits
_PIPELINE_MEMBERS = (
    "PipelineArn",
    "PipelineName",
    "PipelineDisplayName",
    "PipelineDefinition",
    "PipelineDescription",
    "RoleArn",
    "CreatedBy",
    "LastModifiedBy",
    "ParallelismConfiguration",
    "LastRunTime",
)
_EXECUTION_MEMBERS = (
    "PipelineArn",
    "PipelineExecutionArn",
    "PipelineExecutionDisplayName",
    "PipelineExecutionDescription",
    "PipelineExperimentConfig",
    "FailureReason",
    "CreatedBy",
    "LastModifiedBy",
    "ParallelismConfiguration",
    "PipelineVersionId",
)


class PipelineOperations(ControlPlane):
    pipelines: PipelineRunner

    def start_pipelines(self, lambda_functions: FunctionRegistry | None) -> None:
        """Build the execution runner and go on with the executions a stopped server left running."""

        def invoke(ctx: RequestContext, arn: str, event: dict[str, Any]) -> dict[str, Any]:
            """The function named in the pipeline's account and region (an ARN: in its own)."""
            spec = (
                lambda_functions.find(arn, account=ctx.account_id, region=ctx.region)
                if lambda_functions is not None
                else None
            )
            if lambda_functions is None or spec is None:
                raise StepFailed(f"Function not found: {arn}")
            outcome = lambda_functions.pool(spec).invoke(event, arn=lambda_functions.arn(spec))
            if outcome.error is not None or outcome.timed_out:
                error = outcome.error or {"errorMessage": "Task timed out"}
                raise StepFailed(f"Lambda function {arn} failed: {error.get('errorMessage', error)}")
            result = json.loads(outcome.payload or "null")
            return result if isinstance(result, dict) else {}

        self.pipelines = PipelineRunner(self, StepRunner(self, invoke))
        self.pipelines.recover()

    # -- pipelines -------------------------------------------------------------------------------------------

    def _definition_text(self, params: dict[str, Any]) -> str:
        text = params.get("PipelineDefinition")
        location = params.get("PipelineDefinitionS3Location")
        if bool(text) == bool(location):
            raise ValidationException(
                "Specify exactly one of PipelineDefinition and PipelineDefinitionS3Location."
            )
        if location:
            try:
                data = self.training.objects.read_object(location["Bucket"], location["ObjectKey"])
            except Exception as exc:
                raise ValidationException(
                    f"Cannot read the pipeline definition at s3://{location['Bucket']}/{location['ObjectKey']}."
                ) from exc
            text = data.decode("utf-8", "replace")
        assert isinstance(text, str)
        parse(text)
        return text

    def create_pipeline(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["PipelineName"]
        check_name("PipelineName", name)
        refuse_unserved(params, PIPELINE_MEMBERS)
        arn = self.arn(ctx, f"pipeline/{name.lower()}")
        text = self._definition_text(params)
        body: dict[str, Any] = {
            "PipelineArn": arn,
            "PipelineName": name,
            "PipelineDisplayName": params.get("PipelineDisplayName") or name,
            "PipelineDefinition": text,
            "RoleArn": params["RoleArn"],
            "CreatedBy": {},
            "LastModifiedBy": {},
            "_Version": 1,
            **{k: params[k] for k in ("PipelineDescription", "ParallelismConfiguration") if k in params},
        }
        try:
            self.store.insert(
                PIPELINE, name, arn, "Active", body, params.get("Tags", []), where=self.where(ctx)
            )
        except AlreadyExists as exc:
            raise ValidationException(
                f"Pipeline names must be unique within an AWS account and region. "
                f"Pipeline with name ({name}) already exists."
            ) from exc
        return {"PipelineArn": arn}

    def _pipeline(self, ctx: RequestContext, name_or_arn: str) -> Record:
        record = self.store.by_arn(name_or_arn, where=self.where(ctx)) or self.store.get(
            PIPELINE, name_or_arn, where=self.where(ctx)
        )
        if record is None or record.kind != PIPELINE:
            arn = name_or_arn if name_or_arn.startswith("arn:") else self.arn(ctx, f"pipeline/{name_or_arn}")
            raise ResourceNotFound(f"Pipeline '{arn}' does not exist.")
        return record

    def update_pipeline(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._pipeline(ctx, params["PipelineName"])
        refuse_unserved(params, PIPELINE_MEMBERS)
        text = None
        if params.get("PipelineDefinition") or params.get("PipelineDefinitionS3Location"):
            text = self._definition_text(params)

        def change(r: Record) -> None:
            if text is not None:
                r.body["PipelineDefinition"] = text
            for key in ("PipelineDisplayName", "PipelineDescription", "RoleArn", "ParallelismConfiguration"):
                if key in params:
                    r.body[key] = params[key]
            r.body["_Version"] = int(r.body.get("_Version", 1)) + 1

        updated = self.store.update(PIPELINE, record.name, change, where=record.where)
        assert updated is not None
        return {"PipelineArn": record.arn, "PipelineVersionId": updated.body["_Version"]}

    def describe_pipeline(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._pipeline(ctx, params["PipelineName"])
        return {
            **{k: record.body[k] for k in _PIPELINE_MEMBERS if k in record.body},
            "PipelineStatus": record.status,
            "CreationTime": record.created,
            "LastModifiedTime": record.modified,
        }

    def delete_pipeline(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.pipelines.changes:  # no execution starts or is retried between the check and the delete
            return self._delete_pipeline(ctx, params)

    def _delete_pipeline(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._pipeline(ctx, params["PipelineName"])
        executions = self._executions_of(record)
        if any(e.status not in DONE for e in executions):
            raise Conflict(f"Pipeline '{record.arn}' has executions in progress; stop them first.")
        for execution in executions:
            self.store.delete(EXECUTION, execution.name)
        self.store.delete(PIPELINE, record.name, where=record.where)
        return {"PipelineArn": record.arn}

    def list_pipelines(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("PipelineNamePrefix") or ""
        window = {
            "CreationTimeAfter": params.get("CreatedAfter"),
            "CreationTimeBefore": params.get("CreatedBefore"),
        }

        def summary(r: Record) -> dict[str, Any]:
            return {
                "PipelineArn": r.arn,
                "PipelineName": r.name,
                "PipelineDisplayName": r.body.get("PipelineDisplayName"),
                "PipelineDescription": r.body.get("PipelineDescription"),
                "RoleArn": r.body.get("RoleArn"),
                "CreationTime": r.created,
                "LastModifiedTime": r.modified,
                "LastExecutionTime": r.body.get("LastRunTime"),
            }

        sort = {"Name": "Name", "CreationTime": "CreationTime"}.get(
            params.get("SortBy") or "", "CreationTime"
        )
        found, token = listed(
            self.store.records(PIPELINE, where=self.where(ctx)),
            {**params, **window, "SortBy": sort},
            summary,
            # Every pipeline here is one a user created: ManagedBy=AWS matches none.
            keep=lambda r: r.name.startswith(prefix) and params.get("ManagedBy") != "AWS",
        )
        return {"PipelineSummaries": found, "NextToken": token}

    # -- executions ------------------------------------------------------------------------------------------

    def _executions_of(self, pipeline: Record) -> list[Record]:
        """The pipeline's executions: those of its name in its account and region."""
        records = self.store.records(EXECUTION, where=pipeline.where)
        return [r for r in records if r.body.get("PipelineName") == pipeline.name]

    def start_pipeline_execution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.pipelines.changes:  # DeletePipeline cannot land between the pipeline's check and the insert
            return self._start_execution(ctx, params)

    def _start_execution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, params["PipelineName"])
        token = params.get("ClientRequestToken")
        for earlier in self._executions_of(pipeline):
            if token and earlier.body.get("_Token") == token:
                return {"PipelineExecutionArn": earlier.arn}
        for unsupported in ("SelectiveExecutionConfig", "PipelineVersionAlias", "MlflowExperimentName"):
            if params.get(unsupported):
                raise ValidationException(f"{unsupported} is not supported by Outcrop's pipelines.")
        text = pipeline.body["PipelineDefinition"]
        definition = parse(text)
        values = parameter_values(definition, params.get("PipelineParameters") or [])
        execution_id = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        arn = f"{pipeline.arn}/execution/{execution_id}"
        now = time.time()
        document = json.loads(text)
        body: dict[str, Any] = {
            "PipelineArn": pipeline.arn,
            "PipelineName": pipeline.name,
            "PipelineExecutionArn": arn,
            "PipelineExecutionDisplayName": params.get("PipelineExecutionDisplayName")
            or f"execution-{int(now * 1000)}",
            "CreatedBy": {},
            "LastModifiedBy": {},
            "PipelineVersionId": pipeline.body.get("_Version", 1),
            "ParallelismConfiguration": params.get("ParallelismConfiguration")
            or pipeline.body.get("ParallelismConfiguration")
            or {"MaxParallelExecutionSteps": 50},
            "_Definition": text,
            "_Parameters": values,
            "_Token": token,
            "_Context": {"Region": ctx.region, "Account": ctx.account_id, "BaseUrl": ctx.base_url},
            "_Steps": {},
        }
        if params.get("PipelineExecutionDescription"):
            body["PipelineExecutionDescription"] = params["PipelineExecutionDescription"]
        experiment = document.get("PipelineExperimentConfig")
        if isinstance(experiment, dict):
            execution_values = {
                "PipelineExecutionId": execution_id,
                "PipelineExecutionArn": arn,
                "PipelineName": pipeline.name,
                "PipelineArn": pipeline.arn,
            }
            resolver = Resolver(values, execution_values, lambda _: {}, lambda _: {}, lambda *_: "")
            try:
                body["PipelineExperimentConfig"] = resolver.resolve(experiment, "PipelineExperimentConfig")
            except (StepFailed, KeyError) as exc:
                raise ValidationException(f"PipelineExperimentConfig cannot be resolved: {exc}") from exc
        self.store.insert(EXECUTION, execution_id, arn, "Executing", body, where=self.where(ctx))
        self.store.update(
            PIPELINE,
            pipeline.name,
            lambda r: r.body.update(LastRunTime=now),
            touch=False,
            where=pipeline.where,
        )
        self.pipelines.start(execution_id)
        return {"PipelineExecutionArn": arn}

    def _execution(self, ctx: RequestContext, arn: str) -> Record:
        record = self.store.get(EXECUTION, arn.rsplit("/", 1)[-1], where=self.where(ctx))
        if record is None or record.arn != arn:
            raise ResourceNotFound(f"Pipeline execution '{arn}' does not exist.")
        return record

    def describe_pipeline_execution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(ctx, params["PipelineExecutionArn"])
        return {
            **{k: record.body[k] for k in _EXECUTION_MEMBERS if k in record.body},
            "PipelineExecutionStatus": record.status,
            "CreationTime": record.created,
            "LastModifiedTime": record.modified,
        }

    def describe_pipeline_definition_for_execution(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._execution(ctx, params["PipelineExecutionArn"])
        return {"PipelineDefinition": record.body["_Definition"], "CreationTime": record.created}

    def list_pipeline_executions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(ctx, params["PipelineName"])
        if params.get("PipelineVersionAlias"):
            raise ValidationException("PipelineVersionAlias is not supported by Outcrop's pipelines.")

        def summary(r: Record) -> dict[str, Any]:
            return {
                "PipelineExecutionArn": r.arn,
                "StartTime": r.created,
                "PipelineExecutionStatus": r.status,
                "PipelineExecutionDescription": r.body.get("PipelineExecutionDescription"),
                "PipelineExecutionDisplayName": r.body.get("PipelineExecutionDisplayName"),
                "PipelineExecutionFailureReason": r.body.get("FailureReason"),
            }

        window = {
            "CreationTimeAfter": params.get("CreatedAfter"),
            "CreationTimeBefore": params.get("CreatedBefore"),
        }
        found, token = listed(
            self._executions_of(pipeline), {**params, **window, "SortBy": "CreationTime"}, summary
        )
        return {"PipelineExecutionSummaries": found, "NextToken": token}

    def list_pipeline_execution_steps(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params.get("PipelineExecutionArn")
        if not arn:
            raise ValidationException("PipelineExecutionArn is required.")
        record = self._execution(ctx, arn)
        steps = [s for s in record.body.get("_Steps", {}).values() if "StartTime" in s]
        steps.sort(
            key=lambda s: s["StartTime"], reverse=(params.get("SortOrder") or "Descending") == "Descending"
        )
        start = int(params.get("NextToken") or 0) if str(params.get("NextToken") or "0").isdigit() else -1
        if start < 0:
            raise ValidationException("The NextToken is not valid.")
        size = int(params.get("MaxResults") or 20)
        page = steps[start : start + size]
        token = str(start + size) if start + size < len(steps) else None
        described = [
            {k: v for k, v in s.items() if not k.startswith("_") and v not in (None, {})} for s in page
        ]
        return {"PipelineExecutionSteps": described, "NextToken": token}

    def stop_pipeline_execution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(ctx, params["PipelineExecutionArn"])
        seen = [record.status]

        def stopping(r: Record) -> bool:
            seen.append(r.status)  # read and written in one transaction: an execution that ended refuses
            if r.status != "Executing":
                return False
            r.status = "Stopping"
            return True

        if self.store.update(EXECUTION, record.name, stopping) is None:
            raise Conflict(f"Pipeline execution '{record.arn}' is {seen[-1]}, so it cannot be stopped.")
        self.pipelines.stop(record.name)
        return {"PipelineExecutionArn": record.arn}

    def retry_pipeline_execution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._execution(ctx, params["PipelineExecutionArn"])
        if record.status not in ("Failed", "Stopped"):
            raise Conflict(
                f"Pipeline execution '{record.arn}' is {record.status}; only a Failed or Stopped execution "
                "can be retried."
            )

        def retrying(r: Record) -> bool:
            if r.status not in ("Failed", "Stopped"):
                return False  # retried (or changed) since it was read: one retry runs
            r.status = "Executing"
            r.body.pop("FailureReason", None)
            if params.get("ParallelismConfiguration"):
                r.body["ParallelismConfiguration"] = params["ParallelismConfiguration"]
            for step in r.body.get("_Steps", {}).values():
                if step.get("StepStatus") in ("Failed", "Stopped"):
                    step["StepStatus"] = "Starting"
                    for key in ("FailureReason", "EndTime"):
                        step.pop(key, None)
            return True

        with self.pipelines.changes:  # its pipeline is not deleted between the check and the write
            if self.store.update(EXECUTION, record.name, retrying) is None:
                raise Conflict(f"Pipeline execution '{record.arn}' is already being retried or was deleted.")
        self.pipelines.start(record.name)
        return {"PipelineExecutionArn": record.arn}
