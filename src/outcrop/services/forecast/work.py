"""Forecast's long work, off the request: dataset imports, predictor training, forecasts and exports.

One thread takes resources in the order they were created; each goes CREATE_PENDING → CREATE_IN_PROGRESS →
ACTIVE or CREATE_FAILED with a Message. Each step is a pure function of its request and the data it
reads, so after a restart whatever was pending or in progress simply runs again from the start.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from outcrop.forecast import models
from outcrop.forecast.series import (
    DataError,
    Series,
    Table,
    build_series,
    concat,
    default_timestamp_format,
    future,
    parse_csv,
    season_of,
)
from outcrop.services.forecast import backtests
from outcrop.services.forecast.domains import DOMAINS, type_name
from outcrop.services.forecast.store import ACTIVE, FAILED, IN_PROGRESS, PENDING, ForecastStore, Resource
from outcrop.storage.objects import ObjectStore, StoreError

log = logging.getLogger(__name__)


class WorkFailed(Exception):
    """The resource cannot be created; the message is its Message."""


def split_s3(path: str) -> tuple[str, str]:
    """(bucket, key or prefix) of an s3:// path."""
    if not path.startswith("s3://"):
        raise WorkFailed(f"The S3 path {path} must start with s3://")
    bucket, _, key = path[5:].partition("/")
    return bucket, key


class ForecastWork:
    """The queue and the thread that runs it; `submit(arn)` after the resource is recorded as pending."""

    def __init__(self, store: ForecastStore, objects: ObjectStore) -> None:
        self.store = store
        self.objects = objects
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="forecast-work", daemon=True)
        self._handlers: dict[str, Callable[[Resource], None]] = {
            "dataset-import-job": self._import,
            "predictor": self._train,
            "forecast": self._forecast,
            "forecast-export-job": self._export,
            "predictor-backtest-export-job": self._export_backtests,
        }

    def start(self) -> None:
        for resource in self.store.unfinished():
            self.store.update(resource.arn, status=PENDING)
            self._queue.put(resource.arn)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        self._queue.put(None)

    def submit(self, arn: str) -> None:
        self._queue.put(arn)

    def _run(self) -> None:
        while (arn := self._queue.get()) is not None:
            resource = self.store.get(arn)
            if resource is None or resource.status != PENDING:
                continue  # deleted meanwhile
            self.store.update(arn, status=IN_PROGRESS)
            started = time.monotonic()
            try:
                self._handlers[resource.kind](resource)
            except (WorkFailed, DataError, models.ModelError) as exc:
                self.store.update(arn, status=FAILED, message=str(exc))
            except Exception as exc:
                if self._closing.is_set():
                    return  # the server closed under it: left IN_PROGRESS, so the next start runs it again
                log.exception("forecast %s failed", arn)
                self.store.update(arn, status=FAILED, message=f"An internal error stopped the job: {exc}")
            else:
                log.info("forecast %s done in %.1f s", arn, time.monotonic() - started)

    # -- imports ----------------------------------------------------------------------------------------

    def _import(self, job: Resource) -> None:
        dataset = self._need(job.body["DatasetArn"], "dataset")
        bucket, key = split_s3(job.body["DataSource"]["S3Config"]["Path"])
        texts = []
        try:
            if key and not key.endswith("/"):
                try:
                    texts.append(self.objects.read_object(bucket, key))
                except StoreError:
                    key += "/"
            if not texts:
                infos = [o for o in self.objects.iter_objects(bucket, key) if not o.key.endswith("/")]
                texts = [self.objects.read_object(bucket, o.key) for o in infos]
        except StoreError as exc:
            raise WorkFailed(f"Could not read {job.body['DataSource']['S3Config']['Path']}: {exc}") from None
        if not texts:
            raise WorkFailed(f"No data files were found at {job.body['DataSource']['S3Config']['Path']}")
        attributes = [(a["AttributeName"], a["AttributeType"]) for a in dataset.body["Schema"]["Attributes"]]
        fmt = job.body.get("TimestampFormat") or default_timestamp_format(
            dataset.body.get("DataFrequency", "D")
        )
        tables = []
        for raw in texts:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise WorkFailed("The data file is not UTF-8 text") from None
            tables.append(parse_csv(text, attributes, fmt))
        table = concat(tables)
        size = self.store.put_data(job.arn, table)
        self.store.update(
            job.arn, status=ACTIVE, DataSize=size / 1024**3, FieldStatistics=_statistics(table, attributes)
        )

    def dataset_table(self, dataset_arn: str) -> tuple[Table, list[str]]:
        """The dataset's rows: its last FULL import and the INCREMENTAL ones after it (ACTIVE only)."""
        imports = [
            r
            for r in self.store.of_kind("dataset-import-job")
            if r.body["DatasetArn"] == dataset_arn and r.status == ACTIVE
        ]
        fulls = [i for i, r in enumerate(imports) if r.body.get("ImportMode", "FULL") == "FULL"]
        used = imports[fulls[-1] :] if fulls else imports
        return concat([self.store.get_data(r.arn) for r in used]), [r.arn for r in used]

    # -- predictors -------------------------------------------------------------------------------------

    def series_of(self, predictor: Resource) -> tuple[dict[str, Series], list[str], list[str]]:
        """The predictor's series by key (JSON of the dimension values), the dimension names, imports used."""
        body = predictor.body
        group = self._need(body["DatasetGroupArn"], "dataset-group")
        datasets = [self.store.get(arn) for arn in group.body.get("DatasetArns", [])]
        target = next((d for d in datasets if d and d.body["DatasetType"] == "TARGET_TIME_SERIES"), None)
        if target is None:
            raise WorkFailed("The dataset group has no TARGET_TIME_SERIES dataset")
        table, imports = self.dataset_table(target.arn)
        if not imports:
            raise WorkFailed(f"The dataset {target.arn} has no data: import it with CreateDatasetImportJob")
        domain = DOMAINS[target.body["Domain"]]
        dims = [domain.item, *body.get("ForecastDimensions", [])]
        missing = [d for d in dims if d not in table]
        if missing:
            raise WorkFailed(f"The forecast dimension {missing[0]} is not a field of the target dataset")
        built = build_series(
            table,
            keys=dims,
            timestamp="timestamp",
            target=domain.target,
            frequency=body["ForecastFrequency"],
            fill=body.get("Filling"),
        )
        return {json.dumps(list(k)): s for k, s in built.items()}, dims, imports

    def plan(self, predictor: Resource, longest: int) -> models.Plan:
        body = predictor.body
        horizon = int(body["ForecastHorizon"])
        if horizon > longest // 3 and horizon > 1:
            raise WorkFailed(
                f"The forecast horizon {horizon} is more than a third of the longest series "
                f"({longest} points "
                f"at frequency {body['ForecastFrequency']}): import more data or shorten the horizon"
            )
        return models.Plan(
            horizon=horizon,
            season=season_of(body["ForecastFrequency"]),
            types=list(body["ForecastTypes"]),
            candidates=list(body["Candidates"]),
            windows=int(body.get("Windows", 1)),
            offset=int(body.get("Offset", 0)),
            optimization=body.get("OptimizationMetric") or "AverageWeightedQuantileLoss",
            per_series=bool(body.get("IsAutoPredictor")),
        )

    def _train(self, predictor: Resource) -> None:
        series, dims, imports = self.series_of(predictor)
        arrays = {k: s.values for k, s in series.items()}
        longest = max(arrays.values(), key=len)
        plan = self.plan(predictor, len(longest))
        trained = models.train(arrays, plan, lambda line: log.info("%s: %s", predictor.arn, line))
        start = min(s.start for s in series.values())
        stamps = pd.date_range(
            start, periods=len(longest) + 1, freq=_pandas_freq(predictor.body["ForecastFrequency"])
        )
        end = len(longest)
        results = {
            name: [
                {
                    **w,
                    "start": stamps[end - w["back"]].isoformat(),
                    "end": stamps[min(end, end - w["back"] + plan.horizon)].isoformat(),
                }
                for w in windows
            ]
            for name, windows in trained.results.items()
        }
        frequency = predictor.body["ForecastFrequency"]
        self.store.put_data(
            predictor.arn,
            {
                "choices": trained.choices,
                "results": results,
                "backtests": backtests.kept(series, dims, trained, plan, frequency),
            },
        )
        counts: dict[str, int] = {}
        for name in trained.choices.values():
            counts[name] = counts.get(name, 0) + 1
        self.store.update(predictor.arn, status=ACTIVE, DatasetImportJobArns=imports, Chosen=counts)

    # -- forecasts --------------------------------------------------------------------------------------

    def _forecast(self, forecast: Resource) -> None:
        predictor = self._need(forecast.body["PredictorArn"], "predictor")
        series, dims, _ = self.series_of(predictor)
        plan = self.plan(predictor, max(len(s.values) for s in series.values()))
        plan.types = list(forecast.body["ForecastTypes"])
        choices = self.store.get_data(predictor.arn)["choices"]
        values = models.forecast_all({k: s.values for k, s in series.items()}, choices, plan)
        frequency = predictor.body["ForecastFrequency"]
        out = {}
        for key, s in series.items():
            last = future(s.start, len(s.values) - 1, frequency)[-1] if len(s.values) > 1 else s.start
            stamps = [t.isoformat() for t in future(last, plan.horizon, frequency)]
            out[key] = {"timestamps": stamps, "values": values[key]}
        self.store.put_data(forecast.arn, {"dimensions": dims, "series": out})
        self.store.update(forecast.arn, status=ACTIVE)

    def _export(self, job: Resource) -> None:
        forecast = self._need(job.body["ForecastArn"], "forecast")
        data = self.store.get_data(forecast.arn)
        types = list(forecast.body["ForecastTypes"])
        lines = [",".join([*data["dimensions"], "date", *(type_name(t) for t in types)])]
        for key, entry in data["series"].items():
            dims = [backtests.csv_cell(v) for v in json.loads(key)]
            for i, stamp in enumerate(entry["timestamps"]):
                row = [f"{entry['values'][t][i]:.6g}" for t in types]
                lines.append(",".join([*dims, stamp, *row]))
        key = self._write(job, "", "\n".join(lines) + "\n")
        self.store.update(job.arn, status=ACTIVE, ExportedKeys=[key])

    def _export_backtests(self, job: Resource) -> None:
        predictor = self._need(job.body["PredictorArn"], "predictor")
        kept = self.store.get_data(predictor.arn).get("backtests")
        if kept is None:
            raise WorkFailed(
                f"The predictor {predictor.arn} was trained before backtests were kept for export: "
                "train it again and export again"
            )
        files = backtests.csv_files(kept, list(predictor.body["ForecastTypes"]))
        keys = [self._write(job, folder + "/", text) for folder, text in files.items()]
        self.store.update(job.arn, status=ACTIVE, ExportedKeys=keys)

    def _write(self, job: Resource, folder: str, text: str) -> str:
        """Put an export's CSV under its destination (in `folder`), named as the service names them."""
        bucket, prefix = split_s3(job.body["Destination"]["S3Config"]["Path"])
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
        key = f"{prefix.rstrip('/')}/{folder}{job.name}_{now}_part0.csv".lstrip("/")
        try:
            self.objects.put_object(bucket, key, text.encode())
        except StoreError as exc:
            raise WorkFailed(
                f"Could not write to {job.body['Destination']['S3Config']['Path']}: {exc}"
            ) from None
        return key

    def _need(self, arn: str, kind: str) -> Resource:
        found = self.store.get(arn)
        if found is None:
            raise WorkFailed(f"The {kind} {arn} no longer exists")
        return found


def _pandas_freq(frequency: str) -> str:
    return {"Y": "YS", "M": "MS", "W": "W-MON", "H": "h"}.get(frequency, frequency)


def _statistics(table: Table, attributes: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Forecast's FieldStatistics per field: counts, and min/max/mean/stddev of numbers and timestamps."""
    out: dict[str, dict[str, Any]] = {}
    for name, kind in attributes:
        column = table.get(name, [])
        present = [v for v in column if v is not None and v != ""]
        stats: dict[str, Any] = {
            "Count": len(column),
            "CountLong": len(column),
            "CountDistinct": len(set(present)),
            "CountDistinctLong": len(set(present)),
            "CountNull": len(column) - len(present),
            "CountNullLong": len(column) - len(present),
        }
        if kind in ("float", "integer") and present:
            values = np.asarray(present, dtype=float)
            stats.update(
                Min=f"{values.min():g}",
                Max=f"{values.max():g}",
                Avg=float(values.mean()),
                Stddev=float(values.std()),
            )
        elif kind == "timestamp" and present:
            stats.update(Min=min(present), Max=max(present))
        out[name] = stats
    return out
