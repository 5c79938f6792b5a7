"""The Hyperband strategy: training jobs judged on their intermediate objective values, the poor ones stopped.

As on SageMaker, each objective-metric value a training job's log prints is one unit of resource (an epoch):
the k-th value is reported as step k to optuna's HyperbandPruner, which holds successive-halving brackets
between MinResource and MaxResource (reduction factor 3) and says when a job falls out of the top third of
its bracket at a rung; that job is stopped (status Stopped, its objective the last value it printed). A job
is never stopped before MinResource values, and a job that reaches MaxResource values is stopped if it goes
on. MaxResource, when not given, comes from the `epochs`-like static hyperparameters, as SageMaker infers it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from outcrop.protocol.errors import ValidationException

MAX_RESOURCE = 20_000  # SageMaker's limit on MaxResource
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")  # where MaxResource is inferred
GRACE_S = 5.0  # a job that printed exactly MaxResource values gets this long to end on its own


def hyperband_resources(config: dict[str, Any], static: dict[str, str]) -> tuple[int, int]:
    """(MinResource, MaxResource) of a Hyperband tuning job, checked as SageMaker checks them."""
    if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        raise ValidationException(
            "TrainingJobEarlyStoppingType must be Off to use the Hyperband strategy: Hyperband stops "
            "training jobs early by its own mechanism."
        )
    given = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    maximum = given.get("MaxResource")
    if maximum is None:
        for key in EPOCH_KEYS:
            text = str(static.get(key, "")).strip().strip('"')
            if text.isdigit():
                maximum = int(text)
                break
    if maximum is None:
        raise ValidationException(
            "The Hyperband strategy needs HyperbandStrategyConfig.MaxResource, or a static hyperparameter "
            f"it can be inferred from ({', '.join(EPOCH_KEYS)})."
        )
    minimum = int(given.get("MinResource") or 1)
    maximum = int(maximum)
    if not 1 <= maximum <= MAX_RESOURCE:
        raise ValidationException(
            f"HyperbandStrategyConfig.MaxResource must be between 1 and {MAX_RESOURCE}; it is {maximum}."
        )
    if minimum > maximum:
        raise ValidationException(
            f"HyperbandStrategyConfig.MinResource ({minimum}) must not be greater than MaxResource "
            f"({maximum})."
        )
    return minimum, maximum


@dataclass
class Watch:
    """What the tuning job saw of one running training job under Hyperband."""

    reported: int = 0
    full_since: float | None = None  # when it had printed MaxResource values
    stopped: bool = False


@dataclass
class Hyperband:
    """Decides, from the objective values each running job has printed so far, which jobs to stop."""

    minimum: int
    maximum: int
    watches: dict[str, Watch] = field(default_factory=dict)

    def verdict(self, search: Any, job: str, curve: list[float]) -> str | None:
        """ "pruned" (stop it, it fell behind), "done" (stop it, it went past MaxResource) or None (let it
        run); a job is given one verdict.

        Values are reported one step at a time, each followed by the pruner's question, so a decision
        depends on the values at each rung, not on how late the log was read."""
        watch = self.watches.setdefault(job, Watch())
        if watch.stopped:
            return None
        if self._report(search, job, curve, watch):
            search.prune(job)
            watch.stopped = True
            return "pruned"
        late = watch.full_since is not None and time.monotonic() - watch.full_since > GRACE_S
        if len(curve) > self.maximum or late:
            watch.stopped = True
            return "done"
        return None

    def settle(self, search: Any, job: str, curve: list[float]) -> None:
        """A job ended by itself: the values it printed since the last look still count at their rungs."""
        watch = self.watches.pop(job, Watch())
        if not watch.stopped:
            self._report(search, job, curve, watch, stop_early=False)

    def _report(
        self, search: Any, job: str, curve: list[float], watch: Watch, *, stop_early: bool = True
    ) -> bool:
        """Report the values not yet reported; True as soon as the pruner would stop the job."""
        while watch.reported < min(len(curve), self.maximum):
            step = watch.reported + 1
            watch.reported = step
            # at MaxResource the job is done: the pruner's last rung there would stop nothing
            if search.report(job, step, curve[step - 1], ask=step < self.maximum) and stop_early:
                return True
            if step == self.maximum:
                search.tell(job, curve[step - 1])  # the full-fidelity result
                watch.full_since = time.monotonic()
        return False
