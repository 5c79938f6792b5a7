"""Pipeline executions: steps run as soon as what they depend on has succeeded, several at once.

Each execution has one scheduler thread; its steps run in a pool bounded by the execution's
MaxParallelExecutionSteps and the machine's cores. Every step's state (status, times, the job it started,
its properties) is written to the execution's record before anything reads it, so after a restart an
execution goes on where it was: a step whose job ended with the server takes that job's failure, a step
that had not started yet starts. A stopped execution stops its running jobs; a retried one reruns what failed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from outcrop.services.base import RequestContext
from outcrop.services.sagemaker.pipeline_definition import (
    Definition,
    Resolver,
    Step,
    StepFailed,
    parse,
    step_expressions,
)
from outcrop.services.sagemaker.pipeline_steps import JOBS, Outcome, StepRunner, StepStopped
from outcrop.services.sagemaker.store import Record

log = logging.getLogger("outcrop.sagemaker.pipelines")

EXECUTION = "pipeline-execution"
DONE = ("Succeeded", "Failed", "Stopped", "CompletedWithFailures")
_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)


def expiry_seconds(text: str) -> float | None:
    """An ISO 8601 duration (CacheConfig.ExpireAfter: PT1H, P30D...) in seconds; None if it is not one."""
    found = _DURATION.match(text)
    if found is None or text in ("P", "PT"):
        return None
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return float(
        (((years * 365 + months * 30 + weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
    )


class PipelineRunner:
    """Runs the executions of every pipeline of the SageMaker service `host`."""

    def __init__(self, host: Any, steps: StepRunner) -> None:
        self.host = host
        self.store = host.store
        self.steps = steps
        self._stopping: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.changes = threading.Lock()  # held by the operations that add, retry or delete executions

    def close(self) -> None:
        """The server is stopping: what its steps see from now on (closed stores, ended jobs) is not their
        outcome, so nothing more is written, and the next server goes on from the last state recorded."""
        self._closing.set()

    def recover(self) -> None:
        """Executions a stopped server left running go on (a Stopping one stops)."""
        for record in self.store.records(EXECUTION):
            if record.status in ("Executing", "Stopping"):
                self.start(record.name, stopping=record.status == "Stopping")

    def start(self, execution_id: str, *, stopping: bool = False) -> None:
        flag = threading.Event()
        if stopping:
            flag.set()
        with self._lock:
            self._stopping[execution_id] = flag
        threading.Thread(
            target=self._run, args=(execution_id, flag), name=f"pipeline-{execution_id}", daemon=True
        ).start()

    def stop(self, execution_id: str) -> None:
        with self._lock:
            flag = self._stopping.get(execution_id)
        if flag is not None:
            flag.set()

    # -- one execution ---------------------------------------------------------------------------------------

    def _run(self, execution_id: str, stop: threading.Event) -> None:
        try:
            self._schedule(execution_id, stop)
        except Exception as exc:  # an execution must end with a status whatever happened
            if self._closing.is_set():
                return
            log.exception("pipeline execution %s crashed the runner", execution_id)
            self._finish(execution_id, "Failed", f"InternalServerError: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._stopping.pop(execution_id, None)

    def _schedule(self, execution_id: str, stop: threading.Event) -> None:
        record = self.store.get(EXECUTION, execution_id)
        if record is None:
            return
        if record.status == "Stopping":  # stopped before this runner knew the execution
            stop.set()
        definition = parse(record.body["_Definition"])
        ctx = _context(record)
        limit = (record.body.get("ParallelismConfiguration") or {}).get("MaxParallelExecutionSteps", 50)
        workers = max(1, min(int(limit), max(2, os.cpu_count() or 1)))
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(workers, thread_name_prefix=f"pipeline-{execution_id}") as pool:
            while True:
                state = self._steps(execution_id)
                failed = any(s["StepStatus"] in ("Failed", "Stopped") for s in state.values())
                if not stop.is_set() and not failed:
                    for name in _ready(definition, state, set(running.values())):
                        if len(running) >= workers:
                            break
                        future = pool.submit(self._run_step, execution_id, ctx, definition, name, stop)
                        running[future] = name
                if not running:
                    break
                finished, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
                for future in finished:
                    running.pop(future)
                    future.result()
        if self._closing.is_set():
            return
        state = self._steps(execution_id)
        failures = [s for s in state.values() if s["StepStatus"] == "Failed"]
        if stop.is_set() or any(s["StepStatus"] == "Stopped" for s in state.values()):
            self._finish(execution_id, "Stopped", None)
        elif failures:
            first = min(failures, key=lambda s: s.get("EndTime", 0))
            self._finish(execution_id, "Failed", first.get("FailureReason") or "A step failed.")
        else:
            self._finish(execution_id, "Succeeded", None)

    def _run_step(
        self, execution_id: str, ctx: RequestContext, definition: Definition, name: str, stop: threading.Event
    ) -> None:
        step = definition.steps[name]
        previous = self._steps(execution_id).get(name)
        resolver = self._resolver(execution_id, definition)
        try:
            if previous and previous["StepStatus"] == "Executing" and _job_of(step, previous):
                outcome = self.steps.resume(ctx, step.type, previous["Metadata"], stop.is_set)
            else:
                attempt = int((previous or {}).get("AttemptCount", 0)) + 1
                self._put_step(execution_id, name, {"StepStatus": "Executing", "StartTime": time.time()})
                self._put_step(execution_id, name, {"AttemptCount": attempt, "Metadata": {}})
                cached = self._cached(execution_id, step, resolver)
                if cached is not None:
                    return
                outcome = self.steps.run(
                    ctx,
                    step,
                    resolver,
                    execution_id,
                    lambda metadata: self._put_step(execution_id, name, {"Metadata": metadata}),
                    stop.is_set,
                )
        except Exception as exc:
            self._step_raised(execution_id, step, name, exc)
            return
        self._end_step(execution_id, name, "Succeeded", outcome.metadata, None, outcome)

    def _step_raised(self, execution_id: str, step: Step, name: str, raised: Exception) -> None:
        """Record how a step ended when it raised; nothing while the server stops (see close)."""
        if self._closing.is_set():
            return
        if isinstance(raised, StepStopped):
            self._end_step(execution_id, name, "Stopped", raised.metadata, None)
        elif isinstance(raised, StepFailed):
            metadata = {"Fail": {"ErrorMessage": raised.reason}} if step.type == "Fail" else raised.metadata
            self._end_step(execution_id, name, "Failed", metadata, raised.reason)
        else:  # a bug in one step fails that step, not the scheduler
            log.error("pipeline step %s of %s crashed", name, execution_id, exc_info=raised)
            reason = f"InternalServerError: {type(raised).__name__}: {raised}"
            self._end_step(execution_id, name, "Failed", {}, reason)

    def _cached(self, execution_id: str, step: Step, resolver: Resolver) -> Outcome | None:
        """A succeeded run of the same step with the same arguments in this pipeline, within ExpireAfter."""
        config = step.raw.get("CacheConfig") or {}
        if not config.get("Enabled"):
            return None
        try:
            resolved = resolver.resolve(step_expressions(step), f"Step {step.name}")
        except StepFailed:
            return None
        key = hashlib.sha256(json.dumps([step.type, resolved], sort_keys=True).encode()).hexdigest()
        self._put_step(execution_id, step.name, {"_CacheKey": key})
        expiry = expiry_seconds(str(config.get("ExpireAfter") or "P36500D")) or 0.0
        record = self.store.get(EXECUTION, execution_id)
        assert record is not None
        pipeline = record.body["PipelineName"]
        best: tuple[float, Record, dict[str, Any]] | None = None
        for other in self.store.records(EXECUTION, where=record.where):  # its pipeline's, in its region
            if other.name == execution_id or other.body.get("PipelineName") != pipeline:
                continue
            earlier = other.body.get("_Steps", {}).get(step.name)
            if not earlier or earlier.get("StepStatus") != "Succeeded" or earlier.get("_CacheKey") != key:
                continue
            ended = float(earlier.get("EndTime", 0))
            if time.time() - ended <= expiry and (best is None or ended > best[0]):
                best = (ended, other, earlier)
        if best is None:
            return None
        _, source, earlier = best
        outcome = Outcome(earlier.get("Metadata", {}), earlier.get("_Properties", {}))
        hit = earlier.get("CacheHitResult") or {"SourcePipelineExecutionArn": source.arn}
        self._put_step(execution_id, step.name, {"CacheHitResult": hit})
        self._end_step(execution_id, step.name, "Succeeded", outcome.metadata, None, outcome)
        return outcome

    def _resolver(self, execution_id: str, definition: Definition) -> Resolver:
        record = self.store.get(EXECUTION, execution_id)
        assert record is not None
        body = record.body
        execution = {
            "PipelineExecutionId": execution_id,
            "PipelineExecutionArn": record.arn,
            "PipelineName": body["PipelineName"],
            "PipelineArn": body["PipelineArn"],
            "StartDateTime": _iso(record.created),
            "CurrentDateTime": _iso(time.time()),
        }

        def properties(step: str) -> dict[str, Any]:
            state = self._steps(execution_id).get(step) or {}
            if state.get("StepStatus") != "Succeeded":
                raise StepFailed(f"Step {step} has not succeeded, so its properties have no values.")
            found: dict[str, Any] = state.get("_Properties", {})
            return found

        def property_file(step: str, file_name: str) -> str:
            declared = next(
                (
                    f
                    for f in definition.steps[step].raw.get("PropertyFiles") or []
                    if f.get("PropertyFileName") == file_name
                ),
                None,
            )
            if declared is None:
                raise StepFailed(f"Step {step} declares no property file {file_name!r}.")
            outputs = properties(step).get("ProcessingOutputConfig", {}).get("Outputs", [])
            output = next((o for o in outputs if o.get("OutputName") == declared["OutputName"]), None)
            if output is None:
                raise StepFailed(f"Step {step} has no output {declared['OutputName']!r} for {file_name}.")
            return str(output["S3Output"]["S3Uri"]).rstrip("/") + "/" + str(declared["FilePath"])

        return Resolver(body["_Parameters"], execution, properties, self._read_json, property_file)

    def _read_json(self, uri: str) -> Any:
        if not uri.startswith("s3://") or "/" not in uri[5:]:
            raise StepFailed(f"{uri!r} is not an S3 object URI.")
        bucket, key = uri[5:].split("/", 1)
        try:
            return json.loads(self.host.training.objects.read_object(bucket, key))
        except ValueError as exc:
            raise StepFailed(f"The property file {uri} is not JSON: {exc}") from exc
        except Exception as exc:
            raise StepFailed(f"Cannot read the property file {uri}: {exc}") from exc

    # -- state -----------------------------------------------------------------------------------------------

    def _steps(self, execution_id: str) -> dict[str, dict[str, Any]]:
        record = self.store.get(EXECUTION, execution_id)
        steps: dict[str, dict[str, Any]] = record.body.get("_Steps", {}) if record else {}
        return steps

    def _put_step(self, execution_id: str, name: str, fields: dict[str, Any]) -> None:
        def change(record: Record) -> None:
            steps = record.body.setdefault("_Steps", {})
            steps.setdefault(name, {"StepName": name}).update(fields)

        self.store.update(EXECUTION, execution_id, change)

    def _end_step(
        self,
        execution_id: str,
        name: str,
        status: str,
        metadata: dict[str, Any],
        reason: str | None,
        outcome: Outcome | None = None,
    ) -> None:
        fields: dict[str, Any] = {"StepStatus": status, "EndTime": time.time(), "Metadata": metadata}
        if reason:
            fields["FailureReason"] = reason[:1024]
        if outcome is not None:
            fields["_Properties"] = outcome.properties
        self._put_step(execution_id, name, fields)

    def _finish(self, execution_id: str, status: str, reason: str | None) -> None:
        def change(record: Record) -> bool:
            if record.status not in ("Executing", "Stopping"):
                return False  # ended already (or retried as a new run): the first end stands
            record.status = "Stopped" if record.status == "Stopping" else status  # an accepted stop wins
            if reason and record.status == status:
                record.body["FailureReason"] = reason[:1024]
            else:
                record.body.pop("FailureReason", None)
            return True

        self.store.update(EXECUTION, execution_id, change)


def _ready(definition: Definition, state: dict[str, dict[str, Any]], running: set[str]) -> list[str]:
    """Steps whose dependencies succeeded (and whose condition chose their branch), not yet done."""
    ready = []
    for name, step in definition.steps.items():
        current = state.get(name, {}).get("StepStatus")
        if name in running or current in ("Succeeded", "Failed", "Stopped"):
            continue
        if any(state.get(d, {}).get("StepStatus") != "Succeeded" for d in step.depends_on):
            continue
        if step.branch_of is not None:
            outcome = state[step.branch_of].get("_Properties", {}).get("Outcome")
            if outcome != step.branch:
                continue
        ready.append(name)
    return ready


def _job_of(step: Step, state: dict[str, Any]) -> bool:
    return step.type in JOBS and JOBS[step.type].metadata_key in (state.get("Metadata") or {})


def _context(record: Record) -> RequestContext:
    saved = record.body["_Context"]
    return RequestContext(
        service="sagemaker",
        operation="StartPipelineExecution",
        request_id="",
        region=saved["Region"],
        account_id=saved["Account"],
        base_url=saved["BaseUrl"],
    )


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + "Z"
