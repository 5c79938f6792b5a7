"""What each pipeline step type does: the SageMaker call it makes, how it waits, and what it leaves behind.

A job step (training, processing, transform, tuning) creates its job through the control plane's own
operation, as SageMaker Pipelines does, and waits on the job's status; its properties (what later steps read
through `Get: Steps.X...`) are the job's Describe output. Model and RegisterModel steps create a model or a
model package version; a Condition step evaluates the SDK's conditions; a Fail step fails the execution with
its message; a Lambda step invokes the function on the local Lambda runtime.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.sagemaker.pipeline_definition import Resolver, Step, StepFailed

POLL_S = 0.1
FINISHED = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class JobKind:
    """How a job step type maps onto its control-plane operations."""

    name_member: str
    operation: str  # snake_case stem: create_<x>, describe_<x>, stop_<x>
    status_member: str
    metadata_key: str
    max_name: int = 63


JOBS = {
    "Training": JobKind("TrainingJobName", "training_job", "TrainingJobStatus", "TrainingJob"),
    "Processing": JobKind("ProcessingJobName", "processing_job", "ProcessingJobStatus", "ProcessingJob"),
    "Transform": JobKind("TransformJobName", "transform_job", "TransformJobStatus", "TransformJob"),
    "Tuning": JobKind(
        "HyperParameterTuningJobName",
        "hyper_parameter_tuning_job",
        "HyperParameterTuningJobStatus",
        "TuningJob",
        max_name=32,
    ),
}
_ARN_MEMBER = {
    "Training": "TrainingJobArn",
    "Processing": "ProcessingJobArn",
    "Transform": "TransformJobArn",
    "Tuning": "HyperParameterTuningJobArn",
}


@dataclass
class Outcome:
    metadata: dict[str, Any]
    properties: dict[str, Any]


def job_name(execution_id: str, step: str, max_length: int) -> str:
    """A job name SageMaker's pattern accepts, as Pipelines names them: pipelines-<execution>-<step>-<x>."""
    slug = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-") or "step"  # ARNs lowercase the name
    suffix = secrets.token_hex(3)
    if max_length < 40:
        return f"p-{execution_id[:8]}-{slug[: max_length - 18]}-{suffix}".replace("--", "-")
    return f"pipelines-{execution_id}-{slug[: max_length - 31]}-{suffix}".replace("--", "-")


class StepRunner:
    """Runs one step against the control plane (`host`: the SageMaker service itself)."""

    def __init__(
        self, host: Any, invoke_lambda: Callable[[RequestContext, str, dict[str, Any]], dict[str, Any]]
    ) -> None:
        self.host = host
        self.invoke_lambda = invoke_lambda

    def run(
        self,
        ctx: RequestContext,
        step: Step,
        resolver: Resolver,
        execution_id: str,
        started: Callable[[dict[str, Any]], None],
        stopping: Callable[[], bool],
    ) -> Outcome:
        """Run `step`; `started(metadata)` records a job as soon as it exists (so a restart finds it)."""
        where = f"Step {step.name}"
        if step.type == "Condition":
            outcome = all(evaluate(c, resolver, where) for c in step.arguments["Conditions"])
            text = "True" if outcome else "False"
            return Outcome({"Condition": {"Outcome": text}}, {"Outcome": text})
        if step.type == "Fail":
            message = str(resolver.resolve(step.arguments.get("ErrorMessage", ""), where))
            raise StepFailed(message)
        if step.type == "Lambda":
            return self._lambda(ctx, step, resolver, where)
        arguments = resolver.resolve(step.arguments, where)
        if step.type in JOBS:
            kind = JOBS[step.type]
            name = job_name(execution_id, step.name, kind.max_name)
            return self.run_job(ctx, step.type, {**arguments, kind.name_member: name}, started, stopping)
        if step.type == "Model":
            name = job_name(execution_id, step.name, 63)
            arn = self._call(ctx, "create_model", {**arguments, "ModelName": name}, where)["ModelArn"]
            described = self._call(ctx, "describe_model", {"ModelName": name}, where)
            return Outcome({"Model": {"Arn": arn}}, described)
        if step.type == "RegisterModel":
            return self._register(ctx, arguments, where)
        raise StepFailed(f"{where}: step type {step.type} is not supported.")

    def resume(
        self, ctx: RequestContext, step_type: str, metadata: dict[str, Any], stopping: Callable[[], bool]
    ) -> Outcome:
        """Wait for a job a previous server started for this step (it may have ended meanwhile)."""
        kind = JOBS[step_type]
        arn = metadata[kind.metadata_key]["Arn"]
        name = arn.rsplit("/", 1)[-1]
        return self._wait(ctx, step_type, name, metadata, stopping)

    def run_job(
        self,
        ctx: RequestContext,
        step_type: str,
        arguments: dict[str, Any],
        started: Callable[[dict[str, Any]], None],
        stopping: Callable[[], bool],
    ) -> Outcome:
        kind = JOBS[step_type]
        create = getattr(self.host, f"create_{kind.operation}", None)
        if create is None:
            raise StepFailed(f"{step_type} jobs are not served by this Outcrop, so the step cannot run.")
        name = arguments[kind.name_member]
        try:
            answer = create(ctx, arguments)
        except ServiceError as exc:
            raise StepFailed(f"{exc.code}: {exc.message}") from exc
        metadata = {kind.metadata_key: {"Arn": answer[_ARN_MEMBER[step_type]]}}
        started(metadata)
        return self._wait(ctx, step_type, name, metadata, stopping)

    def _wait(
        self,
        ctx: RequestContext,
        step_type: str,
        name: str,
        metadata: dict[str, Any],
        stopping: Callable[[], bool],
    ) -> Outcome:
        kind = JOBS[step_type]
        describe = getattr(self.host, f"describe_{kind.operation}")
        stop = getattr(self.host, f"stop_{kind.operation}")
        asked_to_stop = False
        while True:
            try:
                described = describe(ctx, {kind.name_member: name})
            except ServiceError as exc:
                raise StepFailed(f"{step_type} job {name} is gone: {exc.message}") from exc
            status = described[kind.status_member]
            if status in FINISHED:
                break
            if stopping() and not asked_to_stop:
                asked_to_stop = True
                with contextlib.suppress(ServiceError):  # it finished meanwhile
                    stop(ctx, {kind.name_member: name})
            time.sleep(POLL_S)
        if step_type == "Tuning":
            listed = self.host.list_training_jobs_for_hyper_parameter_tuning_job(
                ctx,
                {
                    "HyperParameterTuningJobName": name,
                    "SortBy": "FinalObjectiveMetricValue",
                    "MaxResults": 100,
                },
            )
            described = {**described, "TrainingJobSummaries": listed["TrainingJobSummaries"]}
        if status == "Stopped":
            raise StepStopped(metadata)
        if status == "Failed":
            reason = described.get("FailureReason") or f"{step_type} job {name} failed."
            raise StepFailed(str(reason), metadata)
        return Outcome(metadata, described)

    def _register(self, ctx: RequestContext, arguments: dict[str, Any], where: str) -> Outcome:
        group = arguments.get("ModelPackageGroupName")
        if group and not self.host.store.get(
            "model-package-group", group, where=(ctx.account_id, ctx.region)
        ):
            # Pipelines creates the group a RegisterModel step names when it does not exist yet.
            self._call(ctx, "create_model_package_group", {"ModelPackageGroupName": group}, where)
        arn = self._call(ctx, "create_model_package", arguments, where)["ModelPackageArn"]
        described = self._call(ctx, "describe_model_package", {"ModelPackageName": arn}, where)
        return Outcome({"RegisterModel": {"Arn": arn}}, described)

    def _lambda(self, ctx: RequestContext, step: Step, resolver: Resolver, where: str) -> Outcome:
        arn = str(resolver.resolve(step.raw["FunctionArn"], where))
        event = resolver.resolve(step.arguments, where)
        result = self.invoke_lambda(ctx, arn, event)
        outputs: dict[str, Any] = {}
        for declared in step.raw.get("OutputParameters") or []:
            output_name = declared["OutputName"]
            if output_name not in result:
                raise StepFailed(
                    f"{where}: the Lambda function's result has no output named {output_name!r}.",
                    {"Lambda": {"Arn": arn}},
                )
            outputs[output_name] = result[output_name]
        listed = [{"Name": k, "Value": _text(v)} for k, v in outputs.items()]
        return Outcome({"Lambda": {"Arn": arn, "OutputParameters": listed}}, {"OutputParameters": outputs})

    def _call(self, ctx: RequestContext, operation: str, params: dict[str, Any], where: str) -> Any:
        try:
            return getattr(self.host, operation)(ctx, params)
        except ServiceError as exc:
            raise StepFailed(f"{where}: {exc.code}: {exc.message}") from exc


class StepStopped(Exception):
    def __init__(self, metadata: dict[str, Any]) -> None:
        super().__init__("stopped")
        self.metadata = metadata


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def evaluate(condition: dict[str, Any], resolver: Resolver, where: str) -> bool:
    """One of the SDK's conditions (Equals, GreaterThan[OrEqualTo], LessThan[OrEqualTo], In, Not, Or)."""
    kind = condition.get("Type")
    if kind == "Not":
        return not evaluate(condition["Condition"], resolver, where)
    if kind == "Or":
        return any(evaluate(c, resolver, where) for c in condition.get("Conditions", []))
    if kind == "In":
        value = resolver.resolve(condition.get("QueryValue"), where)
        return any(_equal(value, resolver.resolve(v, where)) for v in condition.get("Values", []))
    left = resolver.resolve(condition.get("LeftValue"), where)
    right = resolver.resolve(condition.get("RightValue"), where)
    if kind == "Equals":
        return _equal(left, right)
    compare = {
        "GreaterThan": lambda a, b: a > b,
        "GreaterThanOrEqualTo": lambda a, b: a >= b,
        "LessThan": lambda a, b: a < b,
        "LessThanOrEqualTo": lambda a, b: a <= b,
    }.get(str(kind))
    if compare is None:
        raise StepFailed(f"{where}: unknown condition type {kind!r}.")
    a, b = _number(left), _number(right)
    if a is None or b is None:
        if isinstance(left, str) and isinstance(right, str):
            return bool(compare(left, right))
        raise StepFailed(f"{where}: cannot compare {left!r} with {right!r} ({kind}).")
    return bool(compare(a, b))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _equal(a: Any, b: Any) -> bool:
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return x == y
    return bool(a == b)
