"""Invocation metrics per endpoint variant, in one-minute buckets, as SageMaker publishes to CloudWatch.

Names and units follow the AWS/SageMaker namespace: Invocations, Invocation4XXErrors, Invocation5XXErrors
(counts), ModelLatency and OverheadLatency (microseconds); for multi-model endpoints also ModelCacheHit,
LoadedModelCount and ModelLoadingWaitTime. Kept in memory for the last day.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

COUNTS = ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "InvocationsPerInstance")
LATENCIES = ("ModelLatency", "OverheadLatency")
UNITS = {
    **dict.fromkeys(COUNTS, "None"),
    **dict.fromkeys(LATENCIES, "Microseconds"),
    "ModelCacheHit": "None",
    "LoadedModelCount": "None",
    "ModelLoadingWaitTime": "Microseconds",
}
KEEP_MINUTES = 24 * 60


@dataclass
class Bucket:
    """The statistics of one metric over one minute."""

    sum: float = 0.0
    count: int = 0
    minimum: float = float("inf")
    maximum: float = float("-inf")

    def add(self, value: float) -> None:
        self.sum += value
        self.count += 1
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)


Series = dict[int, Bucket]  # minute (epoch seconds, a multiple of 60) -> statistics


class InvocationMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, str], Series] = {}

    def _add(self, key: tuple[str, str, str], minute: int, value: float) -> None:
        series = self._series.setdefault(key, {})
        series.setdefault(minute, Bucket()).add(value)
        if len(series) > KEEP_MINUTES:
            del series[min(series)]

    def record(
        self,
        endpoint: str,
        variant: str,
        *,
        status: int,
        model_seconds: float | None,
        overhead_seconds: float,
        instances: int = 1,
        at: float | None = None,
    ) -> None:
        """One invocation routed to `variant`: its status and, when the model answered, its latency."""
        minute = int((time.time() if at is None else at) // 60) * 60
        with self._lock:
            self._add((endpoint, variant, "Invocations"), minute, 1)
            self._add((endpoint, variant, "InvocationsPerInstance"), minute, 1 / max(instances, 1))
            self._add((endpoint, variant, "Invocation4XXErrors"), minute, 1 if 400 <= status < 500 else 0)
            self._add((endpoint, variant, "Invocation5XXErrors"), minute, 1 if status >= 500 else 0)
            if model_seconds is not None:
                self._add((endpoint, variant, "ModelLatency"), minute, model_seconds * 1e6)
            self._add((endpoint, variant, "OverheadLatency"), minute, overhead_seconds * 1e6)

    def observe(self, endpoint: str, variant: str, metric: str, value: float) -> None:
        """One sample of any other metric (the multi-model ones)."""
        minute = int(time.time() // 60) * 60
        with self._lock:
            self._add((endpoint, variant, metric), minute, value)

    def series(
        self, endpoint: str, variant: str, metric: str, start: float, end: float
    ) -> list[tuple[int, Bucket]]:
        """The minute buckets of one metric with start <= minute < end, oldest first."""
        with self._lock:
            series = self._series.get((endpoint, variant, metric), {})
            return [
                (m, Bucket(b.sum, b.count, b.minimum, b.maximum))
                for m, b in sorted(series.items())
                if start <= m < end
            ]

    def dimensions(self, scope: str = "") -> list[tuple[str, str, str]]:
        """Every (endpoint name, variant, metric) with data; the hosting seam records under an endpoint's
        key (`region/account/name`), whose last part is its name; `scope` (`region/account/`) keeps one
        region's."""
        with self._lock:
            return sorted({(e.rsplit("/", 1)[-1], v, m) for e, v, m in self._series if e.startswith(scope)})

    def summary(self, endpoint: str) -> dict[str, dict[str, float]]:
        """Per variant since start: counts, mean and max latencies (ms), models loaded now (multi-model)."""
        with self._lock:
            keys = [k for k in self._series if k[0] == endpoint]
            result: dict[str, dict[str, float]] = {}
            for _, variant, metric in keys:
                series = self._series[(endpoint, variant, metric)]
                buckets = series.values()
                entry = result.setdefault(variant, {})
                if UNITS.get(metric) == "Microseconds":
                    count = sum(b.count for b in buckets)
                    entry[f"{metric}AverageMs"] = sum(b.sum for b in buckets) / count / 1000 if count else 0.0
                    entry[f"{metric}MaxMs"] = max((b.maximum for b in buckets), default=0.0) / 1000
                elif metric == "LoadedModelCount":  # a level, not a count: the latest minute's highest
                    entry[metric] = series[max(series)].maximum
                elif metric != "InvocationsPerInstance":
                    entry[metric] = sum(b.sum for b in buckets)
            return result
