"""Hyperparameter tuning jobs: training jobs launched by a search, judged by the objective metric.

A tuning job runs in a thread of the server: it asks the search (`tuning_search`) for hyperparameters,
creates each training job through the control plane's own CreateTrainingJob, keeps MaxParallelTrainingJobs
of them running, and reads each finished job's objective from its FinalMetricDataList (the training job's
MetricDefinitions applied to its logs). With early stopping on Auto, a running job whose best objective so
far is worse than the median of earlier jobs at the same point of their logs is stopped (the median rule).
The Hyperband strategy reads the running jobs' logs at every poll and stops those its pruner drops
(`tuning_hyperband`).
The trials are written to the tuning job's record, so after a restart the job goes on with what it had.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import statistics
import threading
import time
from typing import Any

from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.sagemaker.store import Record, Where
from outcrop.services.sagemaker.training import KIND as TRAINING
from outcrop.services.sagemaker.training import LOG_GROUP
from outcrop.services.sagemaker.training_process import end_status
from outcrop.services.sagemaker.tuning_hyperband import Hyperband
from outcrop.services.sagemaker.tuning_search import Search
from outcrop.storage.logs import LogStoreError

log = logging.getLogger("outcrop.sagemaker.tuning")

KIND = "tuning-job"
FINISHED = ("Completed", "Failed", "Stopped")
POLL_S = 0.2
_EARLY_CHECK_S = 1.0
_MIN_FOR_MEDIAN = 3
_DEFINITION_MEMBERS = (
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


def objective_of(training: Record | None, metric: str) -> float | None:
    if training is None:
        return None
    for item in training.body.get("FinalMetricDataList") or []:
        if item.get("MetricName") == metric:
            return float(item["Value"])
    return None


def trial_summary(record: Record, trial: dict[str, Any], training: Record | None) -> dict[str, Any]:
    """A HyperParameterTrainingJobSummary of one of the tuning job's training jobs."""
    objective = record.body["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    status = training.status if training is not None else "Failed"
    value = objective_of(training, objective["MetricName"])
    summary: dict[str, Any] = {
        "TrainingJobName": trial["TrainingJobName"],
        "TrainingJobArn": training.arn if training is not None else trial.get("TrainingJobArn"),
        "TuningJobName": record.name,
        "CreationTime": training.created if training is not None else record.created,
        "TrainingJobStatus": status,
        "TunedHyperParameters": trial["TunedHyperParameters"],
    }
    if training is not None:
        for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
            if training.body.get(key) is not None:
                summary[key] = training.body[key]
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective["Type"],
            "MetricName": objective["MetricName"],
            "Value": value,
        }
    if status in FINISHED:
        summary["ObjectiveStatus"] = "Succeeded" if value is not None else "Failed"
    else:
        summary["ObjectiveStatus"] = "Pending"
    return summary


def better(maximize: bool, a: float, b: float) -> bool:
    return a > b if maximize else a < b


class TuningRunner:
    """Starts, stops and resumes tuning jobs of the SageMaker service `host`; one thread per job."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.store = host.store
        self._stopping: dict[tuple[Where, str], threading.Event] = {}  # by account and region, and name
        self._lock = threading.Lock()
        self._closing = threading.Event()

    def close(self) -> None:
        """The server is stopping: a job's errors from now on (closed stores, ended trainings) are not its
        outcome, so none is recorded and the next server resumes the job."""
        self._closing.set()

    def recover(self) -> None:
        for record in self.store.records(KIND):
            if record.status in ("InProgress", "Stopping"):
                self.start(record.name, record.where, stopping=record.status == "Stopping")

    def start(self, name: str, where: Where, *, stopping: bool = False) -> None:
        flag = threading.Event()
        if stopping:
            flag.set()
        with self._lock:
            self._stopping[(where, name)] = flag
        threading.Thread(
            target=self._run, args=(name, where, flag), name=f"tuning-{name}", daemon=True
        ).start()

    def stop(self, name: str, where: Where) -> None:
        with self._lock:
            flag = self._stopping.get((where, name))
        if flag is not None:
            flag.set()

    def _run(self, name: str, where: Where, stop: threading.Event) -> None:
        try:
            self._tune(name, where, stop)
        except Exception as exc:  # the job must end with a status whatever happened
            if self._closing.is_set():
                return
            log.exception("tuning job %s crashed", name)
            self._finish(name, where, "Failed", f"InternalServerError: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._stopping.pop((where, name), None)

    def _tune(self, name: str, place: Where, stop: threading.Event) -> None:
        record = self.store.get(KIND, name, where=place)
        if record is None:
            return
        if record.status == "Stopping":  # stopped before this runner knew the job
            stop.set()
        config = record.body["HyperParameterTuningJobConfig"]
        objective = config["HyperParameterTuningJobObjective"]
        maximize = objective["Type"] == "Maximize"
        resources = record.body.get("_HyperbandResources")
        hyperband = Hyperband(*resources) if resources else None
        search = Search(
            config.get("Strategy", "Bayesian"),
            config["ParameterRanges"],
            maximize,
            config.get("RandomSeed"),
            tuple(resources) if resources else None,
        )
        limits = config.get("ResourceLimits", {})
        max_jobs = int(limits.get("MaxNumberOfTrainingJobs") or search.size or 1)
        if search.size is not None:
            max_jobs = min(max_jobs, search.size)
        parallel = max(1, int(limits.get("MaxParallelTrainingJobs", 1)))
        deadline = record.created + float(limits.get("MaxRuntimeInSeconds") or 1e12)
        target = (config.get("TuningJobCompletionCriteria") or {}).get("TargetObjectiveMetricValue")
        early = config.get("TrainingJobEarlyStoppingType", "Off") == "Auto"
        pattern = _objective_pattern(record, objective["MetricName"])
        ctx = _context(record)
        where = record.where  # its training jobs are named in its account and region
        trials: list[dict[str, Any]] = list(record.body.get("_Trials", []))
        running: set[str] = set()
        curves: dict[str, list[float]] = {}  # finished jobs' objective values in log order
        for trial in trials:  # what a previous server started
            training = self.store.get(TRAINING, trial["TrainingJobName"], where=where)
            if training is not None and training.status not in FINISHED:
                running.add(trial["TrainingJobName"])
            else:
                search.replay(trial["TunedHyperParameters"], objective_of(training, objective["MetricName"]))
        reached = False
        last_check = 0.0
        while True:
            if self._closing.is_set():  # the next server goes on from the trials recorded
                return
            halt = stop.is_set() or reached or time.time() > deadline
            while not halt and len(trials) < max_jobs and len(running) < parallel:
                trial = self._launch(ctx, record, search, len(trials) + 1)
                trials.append(trial)
                self.store.update(KIND, name, lambda r: r.body.__setitem__("_Trials", trials), where=place)
                if trial.get("TrainingJobArn"):
                    running.add(trial["TrainingJobName"])
            if not running:
                break
            if halt:
                for job in list(running):
                    self._stop_training(ctx, job)
            time.sleep(POLL_S)
            for job in list(running):
                training = self.store.get(TRAINING, job, where=where)
                if training is None or training.status in FINISHED:
                    running.discard(job)
                    value = objective_of(training, objective["MetricName"])
                    if pattern is not None:
                        curves[job] = self._curve(job, pattern, where)
                        if hyperband is not None:
                            hyperband.settle(search, job, curves[job])
                    search.tell(job, value)
                    if (
                        value is not None
                        and target is not None
                        and not better(maximize, float(target), value)
                    ):
                        reached = True
            if hyperband is not None and pattern is not None:
                for job in list(running):
                    verdict = hyperband.verdict(search, job, self._curve(job, pattern, where))
                    if verdict is not None:
                        log.info("tuning job %s stops training job %s (Hyperband: %s)", name, job, verdict)
                        # a script already done is uploading its model: stopping it would only relabel it
                        self._stop_training(ctx, job, training_only=verdict == "done")
            if early and pattern is not None and time.time() - last_check > _EARLY_CHECK_S:
                last_check = time.time()
                for job in list(running):
                    if self._worse_than_median(job, pattern, curves, maximize, where):
                        log.info("tuning job %s stops training job %s early (median rule)", name, job)
                        self._stop_training(ctx, job)
        if stop.is_set():
            self._finish(name, place, "Stopped", None)
            return
        summaries = [
            trial_summary(record, t, self.store.get(TRAINING, t["TrainingJobName"], where=where))
            for t in trials
        ]
        if not any(s["ObjectiveStatus"] == "Succeeded" for s in summaries):
            reasons = [s.get("FailureReason") for s in summaries if s.get("FailureReason")]
            first = str(reasons[0]) if reasons else ""
            self._finish(name, place, "Failed", f"All training jobs failed. {first}".strip())
            return
        self._finish(name, place, "Completed", None)

    def _launch(self, ctx: RequestContext, record: Record, search: Search, index: int) -> dict[str, Any]:
        job = f"{record.name}-{index:03d}-{secrets.token_hex(4)}"
        tuned = search.propose(job)
        definition = record.body["TrainingJobDefinition"]
        resources = (
            definition.get("ResourceConfig") or definition.get("HyperParameterTuningResourceConfig") or {}
        )
        algorithm = dict(definition["AlgorithmSpecification"])
        params: dict[str, Any] = {
            "TrainingJobName": job,
            "AlgorithmSpecification": algorithm,
            "HyperParameters": {**definition.get("StaticHyperParameters", {}), **tuned},
            "ResourceConfig": {
                k: resources[k] for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB") if k in resources
            },
            **{k: definition[k] for k in _DEFINITION_MEMBERS if k in definition},
        }
        trial: dict[str, Any] = {"TrainingJobName": job, "TunedHyperParameters": tuned}
        try:
            trial["TrainingJobArn"] = self.host.create_training_job(ctx, params)["TrainingJobArn"]
        except ServiceError as exc:
            trial["FailureReason"] = f"{exc.code}: {exc.message}"
            search.tell(job, None)
        return trial

    def _stop_training(self, ctx: RequestContext, job: str, *, training_only: bool = False) -> None:
        """Stop the job if it still runs (with `training_only`, only while its script runs)."""
        training = self.store.get(TRAINING, job, where=(ctx.account_id, ctx.region))
        if training is not None and training.status == "InProgress":
            if training_only and training.body.get("SecondaryStatus") != "Training":
                return
            with contextlib.suppress(ServiceError):  # it ended meanwhile
                self.host.stop_training_job(ctx, {"TrainingJobName": job})

    def _curve(self, job: str, pattern: re.Pattern[str], where: Where) -> list[float]:
        """The objective's values in the order the job's log printed them (none before it logs)."""
        training = self.store.get(TRAINING, job, where=where)
        if training is None:
            return []
        logs = self.host.training.logs.scoped(*training.where)  # the job's region
        try:
            events, _ = logs.filter_events(LOG_GROUP, stream_prefix=f"{job}/")
        except LogStoreError:  # its group is made by the first line a job logs
            return []
        values = []
        for event in events:
            found = pattern.search(event.message)
            if found:
                try:
                    values.append(float(found.group(1)))
                except (ValueError, IndexError):
                    continue
        return values

    def _worse_than_median(
        self, job: str, pattern: re.Pattern[str], curves: dict[str, list[float]], maximize: bool, where: Where
    ) -> bool:
        current = self._curve(job, pattern, where)
        if not current:
            return False
        step = len(current)
        pick = max if maximize else min
        earlier = [pick(curve[:step]) for curve in curves.values() if len(curve) >= step]
        if len(earlier) < _MIN_FOR_MEDIAN:
            return False
        return better(maximize, statistics.median(earlier), pick(current))

    def _finish(self, name: str, where: Where, status: str, reason: str | None) -> None:
        def change(record: Record) -> bool:
            ended = end_status(record, status)
            if ended is None:
                return False  # ended already: the first end stands
            record.status = ended  # Stopped where a stop was accepted before this end
            record.body["HyperParameterTuningEndTime"] = time.time()
            if reason and ended == status:
                record.body["FailureReason"] = reason[:1024]
            return True

        self.store.update(KIND, name, change, where=where)


def _objective_pattern(record: Record, metric: str) -> re.Pattern[str] | None:
    definitions = (
        record.body["TrainingJobDefinition"]["AlgorithmSpecification"].get("MetricDefinitions") or []
    )
    regex = next((d["Regex"] for d in definitions if d["Name"] == metric), None)
    return re.compile(regex) if regex else None


def _context(record: Record) -> RequestContext:
    saved = record.body["_Context"]
    return RequestContext(
        service="sagemaker",
        operation="CreateHyperParameterTuningJob",
        request_id="",
        region=saved["Region"],
        account_id=saved["Account"],
        base_url=saved["BaseUrl"],
    )
