"""CreateHyperParameterTuningJob, Describe, List, Stop and ListTrainingJobsForHyperParameterTuningJob.

The request is checked as SageMaker checks it (strategy, ranges, objective among the metric definitions)
before anything starts; the search and its training jobs run in `tuning.TuningRunner`.
"""

from __future__ import annotations

from typing import Any

from outcrop.protocol.errors import ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.sagemaker.control_common import (
    ControlPlane,
    ResourceInUse,
    ResourceNotFound,
    check_name,
    listed,
    request_stop,
)
from outcrop.services.sagemaker.store import AlreadyExists, Record
from outcrop.services.sagemaker.training import KIND as TRAINING
from outcrop.services.sagemaker.tuning import KIND, TuningRunner, better, trial_summary
from outcrop.services.sagemaker.tuning_hyperband import hyperband_resources
from outcrop.services.sagemaker.tuning_search import check_ranges

_STRATEGIES = ("Bayesian", "Random", "Grid", "Hyperband")


class TuningOperations(ControlPlane):
    tuning: TuningRunner

    def start_tuning(self) -> None:
        """Build the tuning runner and go on with the tuning jobs a stopped server left running."""
        self.tuning = TuningRunner(self)
        self.tuning.recover()

    def create_hyper_parameter_tuning_job(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name = params["HyperParameterTuningJobName"]
        check_name("HyperParameterTuningJobName", name)
        arn = self.arn(ctx, f"hyper-parameter-tuning-job/{name.lower()}")
        config = params["HyperParameterTuningJobConfig"]
        definition = params.get("TrainingJobDefinition")
        if params.get("TrainingJobDefinitions") or definition is None:
            raise ValidationException(
                "Give one TrainingJobDefinition; Outcrop does not run TrainingJobDefinitions "
                "(several algorithms)."
            )
        for unsupported in ("WarmStartConfig", "Autotune"):
            if params.get(unsupported):
                raise ValidationException(f"{unsupported} is not supported by Outcrop's tuning jobs.")
        strategy = config.get("Strategy", "Bayesian")
        if strategy not in _STRATEGIES:
            raise ValidationException(
                f"The {strategy} strategy is not supported; use Bayesian, Random, Grid or Hyperband."
            )
        objective = config.get("HyperParameterTuningJobObjective") or definition.get("TuningObjective")
        if not objective:
            raise ValidationException("HyperParameterTuningJobObjective is required.")
        config = {**config, "Strategy": strategy, "HyperParameterTuningJobObjective": objective}
        config.setdefault("TrainingJobEarlyStoppingType", "Off")
        ranges = config.get("ParameterRanges") or definition.get("HyperParameterRanges") or {}
        config["ParameterRanges"] = ranges
        static = definition.get("StaticHyperParameters", {})
        check_ranges(ranges, static, strategy)
        resources = hyperband_resources(config, static) if strategy == "Hyperband" else None
        if resources is None and config.get("StrategyConfig"):
            raise ValidationException(
                "StrategyConfig (HyperbandStrategyConfig) can be given only with the Hyperband strategy."
            )
        limits = config.get("ResourceLimits") or {}
        if strategy != "Grid" and not limits.get("MaxNumberOfTrainingJobs"):
            raise ValidationException(
                f"ResourceLimits.MaxNumberOfTrainingJobs is required for {strategy} search."
            )
        algorithm = definition.get("AlgorithmSpecification") or {}
        if not algorithm.get("TrainingImage") and not algorithm.get("AlgorithmName"):
            raise ValidationException(
                "AlgorithmSpecification must specify either TrainingImage or AlgorithmName."
            )
        metrics = [m["Name"] for m in algorithm.get("MetricDefinitions") or []]
        if objective["MetricName"] not in metrics:
            raise ValidationException(
                f"The objective metric {objective['MetricName']!r} is not one of the MetricDefinitions "
                f"{metrics} of the training job definition."
            )
        body = {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobArn": arn,
            "HyperParameterTuningJobConfig": config,
            "TrainingJobDefinition": definition,
            "_Trials": [],
            "_HyperbandResources": list(resources) if resources else None,
            "_Context": {"Region": ctx.region, "Account": ctx.account_id, "BaseUrl": ctx.base_url},
        }
        try:
            self.store.insert(
                KIND, name, arn, "InProgress", body, params.get("Tags", []), where=self.where(ctx)
            )
        except AlreadyExists as exc:
            raise ResourceInUse(f"Hyperparameter tuning job {name} already exists ({arn}).") from exc
        self.tuning.start(name, self.where(ctx))
        return {"HyperParameterTuningJobArn": arn}

    def _tuning_job(self, ctx: RequestContext, name: str) -> Record:
        record = self.store.get(KIND, name, where=self.where(ctx))
        if record is None:
            raise ResourceNotFound(f"Amazon SageMaker can't find a tuning job with name {name}")
        return record

    def _summaries(self, record: Record) -> list[dict[str, Any]]:
        return [
            trial_summary(record, t, self.store.get(TRAINING, t["TrainingJobName"], where=record.where))
            for t in record.body.get("_Trials", [])
        ]

    def describe_hyper_parameter_tuning_job(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._tuning_job(ctx, params["HyperParameterTuningJobName"])
        summaries = self._summaries(record)
        statuses = [s["TrainingJobStatus"] for s in summaries]
        objectives = [s["ObjectiveStatus"] for s in summaries]
        described: dict[str, Any] = {
            k: record.body[k]
            for k in (
                "HyperParameterTuningJobName",
                "HyperParameterTuningJobArn",
                "HyperParameterTuningJobConfig",
                "TrainingJobDefinition",
                "HyperParameterTuningEndTime",
                "FailureReason",
            )
            if k in record.body
        }
        described.update(
            HyperParameterTuningJobStatus=record.status,
            CreationTime=record.created,
            LastModifiedTime=record.modified,
            TrainingJobStatusCounters={
                "Completed": statuses.count("Completed"),
                "InProgress": statuses.count("InProgress") + statuses.count("Stopping"),
                "RetryableError": 0,
                "NonRetryableError": statuses.count("Failed"),
                "Stopped": statuses.count("Stopped"),
            },
            ObjectiveStatusCounters={
                "Succeeded": objectives.count("Succeeded"),
                "Pending": objectives.count("Pending"),
                "Failed": objectives.count("Failed"),
            },
        )
        best = _best(record, summaries)
        if best is not None:
            described["BestTrainingJob"] = best
            described["OverallBestTrainingJob"] = best
        return described

    def list_hyper_parameter_tuning_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def summary(r: Record) -> dict[str, Any]:
            statuses = [s["TrainingJobStatus"] for s in self._summaries(r)]
            objectives = [s["ObjectiveStatus"] for s in self._summaries(r)]
            config = r.body["HyperParameterTuningJobConfig"]
            return {
                "HyperParameterTuningJobName": r.name,
                "HyperParameterTuningJobArn": r.arn,
                "HyperParameterTuningJobStatus": r.status,
                "Strategy": config["Strategy"],
                "CreationTime": r.created,
                "HyperParameterTuningEndTime": r.body.get("HyperParameterTuningEndTime"),
                "LastModifiedTime": r.modified,
                "TrainingJobStatusCounters": {
                    "Completed": statuses.count("Completed"),
                    "InProgress": statuses.count("InProgress"),
                    "RetryableError": 0,
                    "NonRetryableError": statuses.count("Failed"),
                    "Stopped": statuses.count("Stopped"),
                },
                "ObjectiveStatusCounters": {
                    "Succeeded": objectives.count("Succeeded"),
                    "Pending": objectives.count("Pending"),
                    "Failed": objectives.count("Failed"),
                },
                "ResourceLimits": config.get("ResourceLimits", {}),
            }

        found, token = listed(
            self.store.records(KIND, where=self.where(ctx)), params, summary, status_key="Status"
        )
        return {"HyperParameterTuningJobSummaries": found, "NextToken": token}

    def stop_hyper_parameter_tuning_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._tuning_job(ctx, params["HyperParameterTuningJobName"])
        request_stop(self.store, KIND, record, "tuning job")
        self.tuning.stop(record.name, record.where)
        return {}

    def list_training_jobs_for_hyper_parameter_tuning_job(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._tuning_job(ctx, params["HyperParameterTuningJobName"])
        summaries = self._summaries(record)
        if params.get("StatusEquals"):
            summaries = [s for s in summaries if s["TrainingJobStatus"] == params["StatusEquals"]]
        sort = params.get("SortBy") or "CreationTime"
        descending = (params.get("SortOrder") or "Descending") == "Descending"
        if sort == "FinalObjectiveMetricValue":  # best first, whichever way the objective goes
            maximize = record.body["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"][
                "Type"
            ]
            sign = -1.0 if maximize == "Maximize" else 1.0
            scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
            scored.sort(key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
            summaries = scored if descending else scored[::-1]
        else:
            key = (
                "TrainingJobName"
                if sort == "Name"
                else ("TrainingJobStatus" if sort == "Status" else "CreationTime")
            )
            summaries.sort(key=lambda s: s[key], reverse=descending)
        start = int(params["NextToken"]) if str(params.get("NextToken") or "").isdigit() else 0
        if params.get("NextToken") and not str(params["NextToken"]).isdigit():
            raise ValidationException("The NextToken is not valid.")
        size = int(params.get("MaxResults") or 10)
        page = summaries[start : start + size]
        token = str(start + size) if start + size < len(summaries) else None
        return {"TrainingJobSummaries": page, "NextToken": token}


def _best(record: Record, summaries: list[dict[str, Any]]) -> dict[str, Any] | None:
    maximize = (
        record.body["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] == "Maximize"
    )
    best: dict[str, Any] | None = None
    for summary in summaries:
        if summary["ObjectiveStatus"] != "Succeeded":
            continue
        value = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        if best is None or better(
            maximize, value, best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        ):
            best = summary
    return best
