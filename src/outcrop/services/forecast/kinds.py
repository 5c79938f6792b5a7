"""Forecast's resource kinds as one table, so Describe, List and Delete of every kind take one path.

The API names each kind's members after one prefix (`DatasetImportJobArn`, `DatasetImportJobName`, the
list `DatasetImportJobs`); what differs between kinds is which body members Describe and List show, what
List filters on, and what must be done with a resource's dependents before it can be deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from outcrop.services.forecast.store import Resource


@dataclass(frozen=True)
class Kind:
    prefix: str  # `{prefix}Arn`, `{prefix}Name`, the list member `{prefix}s`
    label: str  # in messages
    describe: tuple[str, ...] | None  # the body members Describe shows; None: all but the tags
    summary: tuple[str, ...]  # the body members a List entry shows
    filters: tuple[str, ...] = ()  # the List filter keys
    blockers: tuple[tuple[str, str], ...] = ()  # (kind, member naming this): dependents that forbid Delete
    waits_for: tuple[tuple[str, str], ...] = ()  # dependents that must be ACTIVE or CREATE_FAILED first
    takes_along: bool = False  # Delete removes the `waits_for` dependents too

    @property
    def arn(self) -> str:
        return self.prefix + "Arn"


KINDS = {
    "dataset": Kind(
        "Dataset",
        "dataset",
        None,
        ("DatasetType", "Domain"),
        waits_for=(("dataset-import-job", "DatasetArn"),),
        takes_along=True,
    ),
    "dataset-group": Kind(
        "DatasetGroup",
        "dataset group",
        ("DatasetArns", "Domain"),
        (),
        blockers=(("predictor", "DatasetGroupArn"),),
    ),
    "dataset-import-job": Kind(
        "DatasetImportJob", "dataset import job", None, ("DataSource", "ImportMode"), ("DatasetArn", "Status")
    ),
    "predictor": Kind(
        "Predictor",
        "predictor",
        None,  # DescribePredictor and DescribeAutoPredictor show their own views (provider.py)
        ("DatasetGroupArn", "IsAutoPredictor"),
        ("DatasetGroupArn", "Status"),
        (("forecast", "PredictorArn"),),
        (("predictor-backtest-export-job", "PredictorArn"),),
    ),
    "forecast": Kind(
        "Forecast",
        "forecast",
        ("ForecastTypes", "PredictorArn", "DatasetGroupArn"),
        ("PredictorArn", "CreatedUsingAutoPredictor", "DatasetGroupArn"),
        ("DatasetGroupArn", "PredictorArn", "Status"),
        waits_for=(("forecast-export-job", "ForecastArn"),),
    ),
    "forecast-export-job": Kind(
        "ForecastExportJob",
        "forecast export job",
        ("ForecastArn", "Destination", "Format"),
        ("Destination",),
        ("ForecastArn", "Status"),
    ),
    "predictor-backtest-export-job": Kind(
        "PredictorBacktestExportJob",
        "predictor backtest export job",
        ("PredictorArn", "Destination", "Format"),
        ("Destination",),
        ("PredictorArn", "Status"),
    ),
}


def time_of(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def status(r: Resource) -> dict[str, Any]:
    """The status members every kind shows: Status, its times, and the Message of a failure."""
    out: dict[str, Any] = {
        "Status": r.status,
        "CreationTime": time_of(r.created),
        "LastModificationTime": time_of(r.modified),
    }
    if r.message:
        out["Message"] = r.message
    return out


def view(r: Resource, members: tuple[str, ...] | None) -> dict[str, Any]:
    """A resource as Describe (or a List entry) shows it: its ARN and name, `members` of its body (all
    but the tags where None), its status."""
    prefix = KINDS[r.kind].prefix
    shown = (
        {k: v for k, v in r.body.items() if k != "Tags"}
        if members is None
        else {k: r.body[k] for k in members if k in r.body}
    )
    return {f"{prefix}Arn": r.arn, f"{prefix}Name": r.name, **shown, **status(r)}
