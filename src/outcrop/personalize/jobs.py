"""Personalize's long work on one background thread: imports, training, campaign deployment, batch jobs,
dataset exports and data deletions.

Every status change is committed before the API shows it. At start, work left pending or in progress by
a stopped server is run again from the beginning: an import writes its rows in one transaction and a
model file is replaced atomically, so a rerun cannot leave half of either.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import queue
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from outcrop.personalize.datajobs import DELETION_STATES, delete_users, export
from outcrop.personalize.errors import PersonalizeError
from outcrop.personalize.recommend import Ask, Recommender, datasets_of, model_path
from outcrop.personalize.schemas import parse_schema, read_value
from outcrop.personalize.store import BULK, Interaction, PersonalizeStore
from outcrop.personalize.training import train
from outcrop.storage.objects import ObjectStore, StoreError

log = logging.getLogger(__name__)

PENDING, RUNNING, ACTIVE, FAILED = "CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE", "CREATE FAILED"
STOPPING, STOPPED = "CREATE STOPPING", "CREATE STOPPED"
UPDATE_PENDING, UPDATE_RUNNING = "UPDATE PENDING", "UPDATE IN_PROGRESS"
KINDS = (
    "datasetImportJob",
    "solutionVersion",
    "recommender",
    "campaign",
    "batchInferenceJob",
    "datasetExportJob",
    "dataDeletionJob",
)
_STATES = {"dataDeletionJob": DELETION_STATES}
"""A kind's (pending, in progress, done, failed) statuses, where not CREATE PENDING ... CREATE FAILED."""
MAX_BAD_ROWS_SHOWN = 3


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or ("/" not in uri[5:] and not uri[5:]):
        raise PersonalizeError(f"{uri} is not an s3:// location")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


class Worker:
    def __init__(
        self, store: PersonalizeStore, objects: ObjectStore, recommender: Recommender, models: Path
    ) -> None:
        self.store = store
        self.objects = objects
        self.recommender = recommender
        self.models = models
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="personalize-jobs", daemon=True)
        self._handlers: dict[str, Callable[[str], object]] = {
            "datasetImportJob": self._import,
            "solutionVersion": self._train,
            "recommender": self._train,
            "campaign": self._deploy,
            "batchInferenceJob": self._batch,
            "datasetExportJob": lambda arn: self._finish(arn, export(self.store, self.objects, arn)),
            "dataDeletionJob": lambda arn: delete_users(self.store, self._objects, arn),
        }

    def start(self) -> None:
        for kind in KINDS:
            pending, running, _, _ = _states(kind)
            left = self.store.list_of(
                kind, statuses=(pending, running, STOPPING, UPDATE_PENDING, UPDATE_RUNNING)
            )
            for resource in sorted(left, key=lambda r: r.created):
                self._queue.put(resource.arn)
        self._thread.start()

    def submit(self, arn: str) -> None:
        self._queue.put(arn)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while (arn := self._queue.get()) is not None:
            resource = self.store.any(arn)
            if resource is None:
                continue
            if resource.status == STOPPING:
                self.store.update(arn, status=STOPPED, only_if=(STOPPING,))
                continue
            updating = resource.status in (UPDATE_PENDING, UPDATE_RUNNING)
            _, running, _, failed = _states(resource.kind)
            started = UPDATE_RUNNING if updating else running
            if not self.store.update(arn, status=started, only_if=(resource.status,)):
                self.store.update(arn, status=STOPPED, only_if=(STOPPING,))  # a stop landed since it was read
                continue
            try:
                self._handlers[resource.kind](arn)
            except PersonalizeError as exc:
                self._fail(arn, str(exc), updating, failed)
            except Exception as exc:  # a defect must end the job with a reason, not kill the thread
                log.exception("Personalize job %s failed", arn)
                self._fail(arn, f"Internal error: {exc}", updating, failed)

    def _fail(self, arn: str, reason: str, updating: bool, failed: str = FAILED) -> None:
        if updating:
            self.store.update(arn, status=ACTIVE, doc={"updateFailure": reason})
        else:
            self._end(arn, status=failed, failure=reason)

    def _finish(self, arn: str, doc: dict[str, Any]) -> None:
        self._end(arn, status=ACTIVE, doc=doc)

    def _end(self, arn: str, **outcome: Any) -> None:
        """A job's outcome, unless a stop was asked for: then CREATE STOPPED. Each change is made only from
        the status it was checked in, so a stop landing between the two checks is seen on the next round."""
        for _ in range(3):
            if self.store.update(arn, status=STOPPED, only_if=(STOPPING,)):
                return
            resource = self.store.any(arn)
            if resource is None:
                return
            running = (_states(resource.kind)[1], UPDATE_RUNNING)
            if self.store.update(arn, **outcome, only_if=running):
                return

    # dataset import jobs
    def _import(self, arn: str) -> None:
        job = self.store.get("datasetImportJob", arn)
        dataset = self.store.get("dataset", job.doc["datasetArn"])
        schema = parse_schema(self.store.get("schema", dataset.doc["schemaArn"]).doc["schema"])
        rows: list[dict[str, Any]] = []
        bad: list[str] = []
        total = 0
        for name, data in self._objects(job.doc["dataSource"]["dataLocation"]):
            reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
            header = next(reader, None)
            if not header:
                raise PersonalizeError(f"{name} has no header row.")
            columns = [h.strip() for h in header]
            unknown = [c for c in columns if schema.field(c) is None]
            missing = [f.name for f in schema.fields if not f.nullable and f.name not in columns]
            if unknown or missing:
                raise PersonalizeError(
                    f"The columns of {name} do not match the schema: "
                    + "; ".join(
                        part
                        for part in (
                            f"not in the schema: {', '.join(unknown)}" if unknown else "",
                            f"missing: {', '.join(missing)}" if missing else "",
                        )
                        if part
                    )
                )
            fields = [schema.field(c) for c in columns]
            for line, values in enumerate(reader, start=2):
                if not values:
                    continue
                total += 1
                try:
                    if len(values) != len(columns):
                        raise ValueError(f"{len(values)} values for {len(columns)} columns")
                    rows.append({f.name: read_value(f, v) for f, v in zip(fields, values, strict=True) if f})
                except ValueError as exc:
                    bad.append(f"{name} line {line}: {exc}")
        if bad:
            raise PersonalizeError(
                f"{len(bad)} of {total} rows do not match the schema, so nothing was imported. "
                + "; ".join(bad[:MAX_BAD_ROWS_SHOWN])
            )
        if not rows:
            raise PersonalizeError("The data location holds no rows to import.")
        full = job.doc.get("importMode", "FULL") == "FULL"
        self.store.replace_rows(dataset.arn, dataset.doc["datasetType"], rows, full=full, source=BULK)
        self._finish(arn, {"importedRows": len(rows)})

    def _objects(self, location: str) -> list[tuple[str, bytes]]:
        bucket, key = split_s3(location)
        try:
            if key and not key.endswith("/"):
                return [(location, self.objects.read_object(bucket, key))]
            keys = [o.key for o in self.objects.iter_objects(bucket, key) if o.key.endswith(".csv")]
            found = [(f"s3://{bucket}/{k}", self.objects.read_object(bucket, k)) for k in keys]
        except StoreError as exc:
            raise PersonalizeError(f"Cannot read {location}: {exc}") from None
        if not found:
            raise PersonalizeError(f"No CSV files were found at {location}.")
        return found

    # solution versions and recommenders
    def _train(self, arn: str) -> None:
        version = self.store.any(arn)
        if version is None:
            return
        doc = version.doc
        datasets = datasets_of(self.store, doc["datasetGroupArn"])
        if "Interactions" not in datasets:
            raise PersonalizeError("The dataset group has no Interactions dataset to train on.")
        rows = self.store.interactions(datasets["Interactions"])
        rows = _selected(rows, doc.get("eventType"), doc.get("solutionConfig", {}).get("eventValueThreshold"))
        entities = self.store.entities(datasets["Items"]) if "Items" in datasets else {}
        similar = doc["algorithm"] == "als-similar" and "Items" in datasets
        features = self._item_features(datasets["Items"], entities) if similar else {}
        seed = zlib.crc32(arn.encode())
        trained = train(doc["algorithm"], rows, list(entities), doc["hyperparameters"], seed, features)
        trained.model.save(model_path(self.models, arn))
        self._finish(
            arn,
            {
                "metrics": trained.metrics,
                "trainingHours": round(trained.fit_seconds / 3600, 6),
                "fitSeconds": round(trained.fit_seconds, 3),
            },
        )

    def _item_features(self, dataset: str, entities: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        """Each item's categorical metadata as FIELD=value tokens (categorical strings split on |)."""
        schema = parse_schema(
            self.store.get("schema", self.store.get("dataset", dataset).doc["schemaArn"]).doc["schema"]
        )
        fields = [f.name for f in schema.fields if f.categorical]
        return {
            item: [f"{name}={part}" for name in fields if row.get(name) for part in str(row[name]).split("|")]
            for item, row in entities.items()
        }

    # campaigns
    def _deploy(self, arn: str) -> None:
        campaign = self.store.get("campaign", arn)
        target = campaign.doc.get("pendingSolutionVersionArn") or campaign.doc["solutionVersionArn"]
        version = self.store.get("solutionVersion", target)
        self.recommender.model(target, version.created)  # a model that does not load fails the campaign
        self.store.update(
            arn, status=ACTIVE, doc={"solutionVersionArn": target, "pendingSolutionVersionArn": None}
        )

    # batch inference jobs
    def _batch(self, arn: str) -> None:
        job = self.store.get("batchInferenceJob", arn)
        version = self.store.get("solutionVersion", job.doc["solutionVersionArn"])
        source = job.doc["jobInput"]["s3DataSource"]["path"]
        destination = job.doc["jobOutput"]["s3DataDestination"]["path"]
        flt = self.store.get("filter", job.doc["filterArn"]) if job.doc.get("filterArn") else None
        out_bucket, out_prefix = split_s3(destination)
        for name, data in self._objects_any(source):
            lines = []
            for raw in data.decode().splitlines():
                if raw.strip():
                    lines.append(json.dumps(self._batch_line(version, raw, job.doc, flt)))
            key = out_prefix.rstrip("/") + "/" + name.rsplit("/", 1)[-1] + ".out"
            try:
                self.objects.put_object(out_bucket, key.lstrip("/"), ("\n".join(lines) + "\n").encode())
            except StoreError as exc:
                raise PersonalizeError(f"Cannot write {destination}: {exc}") from None
        self._finish(arn, {})

    def _objects_any(self, location: str) -> list[tuple[str, bytes]]:
        bucket, key = split_s3(location)
        try:
            return [(location, self.objects.read_object(bucket, key))]
        except StoreError as exc:
            raise PersonalizeError(f"Cannot read {location}: {exc}") from None

    def _batch_line(self, version: Any, raw: str, doc: dict[str, Any], flt: Any) -> dict[str, Any]:
        try:
            given = json.loads(raw)
            if not isinstance(given, dict):
                raise ValueError("each line is a JSON object")
            ask = Ask(
                user_id=given.get("userId"),
                item_id=given.get("itemId"),
                num_results=int(doc.get("numResults") or 25),
                filter=flt,
                filter_values=given.get("filterValues"),
            )
            if "itemList" in given:
                ranked = self.recommender.rank(version, ask, [str(i) for i in given["itemList"]])
                output: dict[str, Any] = {"recommendedItems": [t for t, _ in ranked]}
            else:
                found = self.recommender.recommend(version, ask)
                output = {"recommendedItems": [t for t, _ in found]}
                ranked = found
            if any(s is not None for _, s in ranked):
                output["scores"] = [s for _, s in ranked]
            return {"input": given, "output": output, "error": None}
        except (ValueError, PersonalizeError) as exc:
            return {"input": raw, "output": None, "error": str(exc)}


def _states(kind: str) -> tuple[str, str, str, str]:
    return _STATES.get(kind, (PENDING, RUNNING, ACTIVE, FAILED))


def _selected(rows: list[Interaction], event_type: str | None, threshold: str | None) -> list[Interaction]:
    """The interactions a solution trains on: of its event type, at or above its value threshold."""
    if event_type:  # Personalize matches event types ignoring case
        wanted = event_type.lower()
        rows = [r for r in rows if (r.event_type or "").lower() == wanted]
    if threshold:
        limit = float(threshold)
        rows = [r for r in rows if r.event_value is not None and r.event_value >= limit]
    return rows
