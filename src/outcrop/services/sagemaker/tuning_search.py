"""The search behind a hyperparameter tuning job: which hyperparameters each next training job gets.

Bayesian search is optuna's TPE sampler, Random its random sampler, both seeded by RandomSeed; Grid walks
every combination of the categorical ranges in order. Hyperband samples with TPE too, and its jobs'
intermediate values go to optuna's HyperbandPruner (`tuning_hyperband` acts on its answers). Ranges keep
SageMaker's scaling types: Logarithmic samples the log of the value uniformly, ReverseLogarithmic the log
of 1 - value.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from outcrop.protocol.errors import ValidationException

try:
    import optuna
except ImportError:  # pragma: no cover - the ml extra brings it
    optuna = None  # type: ignore[assignment]

MAX_RANGES = 30  # SageMaker's limit on tuned hyperparameters


def check_ranges(ranges: dict[str, Any], static: dict[str, str], strategy: str) -> None:
    """SageMaker's rules on ParameterRanges, refused as ValidationException."""
    names: list[str] = []
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for item in ranges.get(kind) or []:
            names.append(item["Name"])
            cast = int if kind.startswith("Integer") else float
            try:
                low, high = cast(item["MinValue"]), cast(item["MaxValue"])
            except ValueError as exc:
                raise ValidationException(
                    f"The range of hyperparameter {item['Name']} is not valid: {item['MinValue']!r} to "
                    f"{item['MaxValue']!r} are not {'integers' if cast is int else 'numbers'}."
                ) from exc
            if low > high:
                raise ValidationException(
                    f"The MinValue of hyperparameter {item['Name']} must be less than or equal to its "
                    "MaxValue."
                )
            scaling = item.get("ScalingType", "Auto")
            if scaling == "Logarithmic" and low <= 0:
                raise ValidationException(
                    f"Hyperparameter {item['Name']}: logarithmic scaling needs a MinValue greater than 0."
                )
            if scaling == "ReverseLogarithmic" and (cast is int or low < 0 or high >= 1):
                raise ValidationException(
                    f"Hyperparameter {item['Name']}: reverse logarithmic scaling needs a continuous range "
                    "within 0 <= value < 1."
                )
    for item in ranges.get("CategoricalParameterRanges") or []:
        names.append(item["Name"])
        if not item.get("Values"):
            raise ValidationException(f"Categorical hyperparameter {item['Name']} needs at least one value.")
    if ranges.get("AutoParameters"):
        raise ValidationException("AutoParameters (Autotune) are not supported by Outcrop's tuning jobs.")
    if not names:
        raise ValidationException("ParameterRanges must name at least one hyperparameter to tune.")
    if len(names) > MAX_RANGES:
        raise ValidationException(
            f"At most {MAX_RANGES} hyperparameters can be tuned; {len(names)} were given."
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValidationException(f"Hyperparameters {duplicated} appear in more than one range.")
    both = sorted(set(names) & set(static))
    if both:
        raise ValidationException(f"Hyperparameters {both} are both tuned and static.")
    if strategy == "Grid" and (
        ranges.get("IntegerParameterRanges") or ranges.get("ContinuousParameterRanges")
    ):
        raise ValidationException("The Grid strategy tunes categorical parameter ranges only.")


def grid(ranges: dict[str, Any]) -> list[dict[str, str]]:
    categorical = ranges.get("CategoricalParameterRanges") or []
    names = [c["Name"] for c in categorical]
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(c["Values"] for c in categorical))
    ]


class Search:
    """Proposes hyperparameters and learns from the objective values of finished training jobs."""

    def __init__(
        self,
        strategy: str,
        ranges: dict[str, Any],
        maximize: bool,
        seed: int | None,
        resources: tuple[int, int] | None = None,
    ) -> None:
        """`resources` is Hyperband's (MinResource, MaxResource), for its pruner."""
        self.strategy = strategy
        self.ranges = ranges
        self._grid = grid(ranges) if strategy == "Grid" else []
        self._given = 0
        self._trials: dict[str, Any] = {}
        if strategy != "Grid":
            if optuna is None:
                raise ValidationException(
                    f"The {strategy} strategy needs optuna: pip install 'outcrop[ml]' (or optuna)."
                )
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            sampler = (
                optuna.samplers.TPESampler(seed=seed, n_startup_trials=3)
                if strategy in ("Bayesian", "Hyperband")
                else optuna.samplers.RandomSampler(seed=seed)
            )
            pruner = None
            if resources is not None:
                pruner = optuna.pruners.HyperbandPruner(
                    min_resource=resources[0], max_resource=resources[1], reduction_factor=3
                )
            # One study per tuning job, under a fixed name: Hyperband assigns trials to brackets by a hash
            # of the study's name and the trial's number, so the same seed makes the same decisions.
            self._study = optuna.create_study(
                study_name="outcrop-tuning",
                direction="maximize" if maximize else "minimize",
                sampler=sampler,
                pruner=pruner,
            )

    @property
    def size(self) -> int | None:
        """How many jobs the search has to give (the grid's size), None if unbounded."""
        return len(self._grid) if self.strategy == "Grid" else None

    def propose(self, job: str) -> dict[str, str]:
        if self.strategy == "Grid":
            chosen = self._grid[self._given]
            self._given += 1
            return dict(chosen)
        trial = self._study.ask()
        self._trials[job] = trial
        return {name: _text(value) for name, value in self._suggest(trial).items()}

    def replay(self, tuned: dict[str, str], value: float | None) -> None:
        """Teach the search a job a previous server ran (after a restart)."""
        if self.strategy == "Grid":
            self._given += 1
            return
        distributions = self._distributions()
        params = {}
        for name, text in tuned.items():
            if name not in distributions:
                continue
            internal = _internal_value(self.ranges, name, text)
            if internal is not None:
                params[name] = internal
        if len(params) != len(distributions):
            return
        state = optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.FAIL
        self._study.add_trial(
            optuna.trial.create_trial(params=params, distributions=distributions, value=value, state=state)
        )

    def report(self, job: str, step: int, value: float, *, ask: bool = True) -> bool:
        """Report a job's objective at `step` (its step-th value); True when, asked, the pruner would stop
        it. Asking is what records the value at a rung for the jobs that come after."""
        trial = self._trials.get(job)
        if trial is None or math.isnan(value):
            return False
        trial.report(value, step)
        return bool(ask and trial.should_prune())

    def prune(self, job: str) -> None:
        """The job was stopped by the pruner: optuna keeps its last value as a pruned trial's."""
        trial = self._trials.pop(job, None)
        if trial is not None:
            self._study.tell(trial, state=optuna.trial.TrialState.PRUNED)

    def tell(self, job: str, value: float | None) -> None:
        trial = self._trials.pop(job, None)
        if trial is None:
            return
        if value is None or math.isnan(value):
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(trial, value)

    def _distributions(self) -> dict[str, Any]:
        distributions: dict[str, Any] = {}
        for item in self.ranges.get("IntegerParameterRanges") or []:
            log = item.get("ScalingType") == "Logarithmic"
            distributions[item["Name"]] = optuna.distributions.IntDistribution(
                int(item["MinValue"]), int(item["MaxValue"]), log=log
            )
        for item in self.ranges.get("ContinuousParameterRanges") or []:
            low, high = float(item["MinValue"]), float(item["MaxValue"])
            scaling = item.get("ScalingType")
            if scaling == "ReverseLogarithmic":  # sampled as 1 - value, log-uniformly
                distributions[item["Name"]] = optuna.distributions.FloatDistribution(
                    1 - high, 1 - low, log=True
                )
            else:
                distributions[item["Name"]] = optuna.distributions.FloatDistribution(
                    low, high, log=scaling == "Logarithmic"
                )
        for item in self.ranges.get("CategoricalParameterRanges") or []:
            distributions[item["Name"]] = optuna.distributions.CategoricalDistribution(list(item["Values"]))
        return distributions

    def _suggest(self, trial: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, distribution in self._distributions().items():
            if isinstance(distribution, optuna.distributions.IntDistribution):
                values[name] = trial.suggest_int(
                    name, distribution.low, distribution.high, log=distribution.log
                )
            elif isinstance(distribution, optuna.distributions.FloatDistribution):
                value = trial.suggest_float(name, distribution.low, distribution.high, log=distribution.log)
                values[name] = 1 - value if self._reversed(name) else value
            else:
                values[name] = trial.suggest_categorical(name, distribution.choices)
        return values

    def _reversed(self, name: str) -> bool:
        return any(
            i["Name"] == name and i.get("ScalingType") == "ReverseLogarithmic"
            for i in self.ranges.get("ContinuousParameterRanges") or []
        )


def _internal_value(ranges: dict[str, Any], name: str, text: str) -> Any:
    for item in ranges.get("IntegerParameterRanges") or []:
        if item["Name"] == name:
            return int(text)
    for item in ranges.get("ContinuousParameterRanges") or []:
        if item["Name"] == name:
            value = float(text)
            return 1 - value if item.get("ScalingType") == "ReverseLogarithmic" else value
    for item in ranges.get("CategoricalParameterRanges") or []:
        if item["Name"] == name:
            return text if text in item["Values"] else None
    return None


def _text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)
