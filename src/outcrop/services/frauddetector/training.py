"""Models and model versions: training runs on a background thread from an S3 CSV (EXTERNAL_EVENTS) or
from the stored events (INGESTED_EVENTS); a version left TRAINING_IN_PROGRESS by a stopped server trains
again from the start when it comes back (training is a pure function of the data and a fixed seed).
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

from outcrop.services.base import RequestContext
from outcrop.services.frauddetector.common import (
    MODEL_TYPES,
    Base,
    ConflictException,
    ResourceNotFoundException,
    ValidationException,
    parse_time,
    stamped,
    tag_map,
    version_arn,
)
from outcrop.services.frauddetector.model import Column, FraudModel, TrainingFailed, train
from outcrop.storage.objects import StoreError

log = logging.getLogger(__name__)
TRAINING = "TRAINING_IN_PROGRESS"
_UNLABELED = {"FRAUD": 1, "LEGIT": 0, "AUTO": 0}


def version_key(model_id: str, model_type: str, number: str) -> str:
    return f"{model_id}/{model_type}/{number}"


class Training(Base):
    def pending(self) -> list[str]:
        """The long work a stopped server left unfinished here, to queue again: model versions still
        TRAINING_IN_PROGRESS (they train again from the start), batch imports and batch predictions."""
        keys = [v.key for v in self.store.scan("model_version") if v.body["status"] == TRAINING]
        for kind, prefix in (("batch_import", "import:"), ("batch_prediction", "prediction:")):
            for job in self.store.scan(kind):
                if job.body["status"] in ("IN_PROGRESS_INITIALIZING", "IN_PROGRESS"):
                    self.store.update(kind, job.key, {"status": "IN_PROGRESS_INITIALIZING"})
                    keys.append(prefix + job.key)
                elif job.body["status"] == "CANCEL_IN_PROGRESS":
                    self.store.update(kind, job.key, {"status": "CANCELED"})
        return keys

    # models
    def create_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        model_id, model_type = params["modelId"], params["modelType"]
        self._model_type(model_type)
        self._need("event_type", params["eventTypeName"], "event type")
        tags = tag_map(params.get("tags"))
        body = {
            "modelId": model_id,
            "modelType": model_type,
            "eventTypeName": params["eventTypeName"],
            "description": params.get("description", ""),
        }
        if self.store.get("variable", f"{model_id}_insightscore") or not self.store.create(
            "model", f"{model_id}/{model_type}", body
        ):
            raise ValidationException(f"A model with the id {model_id} already exists")
        score = {"name": f"{model_id}_insightscore", "dataType": "FLOAT", "dataSource": "MODEL_SCORE"}
        self.store.put("variable", score["name"], score | {"defaultValue": "0.0", "variableType": "NUMERIC"})
        if tags:
            self.store.set_tags(self._arn(ctx, f"model/{model_type}/{model_id}"), tags)
        return {}

    @staticmethod
    def _model_type(model_type: str) -> None:
        if model_type not in MODEL_TYPES:
            raise ValidationException(f"Outcrop trains {' and '.join(MODEL_TYPES)} models, not {model_type}")

    def get_models(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self.store.scan("model")
        if params.get("modelType"):
            found = [m for m in found if m.body["modelType"] == params["modelType"]]
        if params.get("modelId"):
            found = [m for m in found if m.body["modelId"] == params["modelId"]]
            if not found:
                raise ResourceNotFoundException(f"The model {params['modelId']} does not exist")
        items = [
            {k: v for k, v in m.body.items() if v != ""}
            | stamped(m)
            | {"arn": self._arn(ctx, f"model/{m.body['modelType']}/{m.body['modelId']}")}
            for m in found
        ]
        return self._page(items, params, "models")

    def update_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = f"{params['modelId']}/{params['modelType']}"
        self._need("model", key, "model")
        self.store.update("model", key, {"description": params.get("description", "")})
        return {}

    def delete_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = f"{params['modelId']}/{params['modelType']}"
        if self.store.scan("model_version", key + "/"):
            raise ConflictException(f"The model {params['modelId']} has versions: delete them first")
        if self.store.delete("model", key):
            self.store.delete("variable", f"{params['modelId']}_insightscore")
        return {}

    # model versions
    def create_model_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        model_id, model_type = params["modelId"], params["modelType"]
        model = self._need("model", f"{model_id}/{model_type}", "model").body
        event_type = self._need("event_type", model["eventTypeName"], "event type").body
        schema = params["trainingDataSchema"]
        self._check_schema(schema, event_type)
        source = params["trainingDataSource"]
        request: dict[str, Any] = {}
        if source == "EXTERNAL_EVENTS":
            detail = params.get("externalEventsDetail")
            if not detail or params.get("ingestedEventsDetail"):
                raise ValidationException(
                    "EXTERNAL_EVENTS training needs externalEventsDetail (and no other)"
                )
            request["externalEventsDetail"] = detail
        else:
            detail = params.get("ingestedEventsDetail")
            if not detail or params.get("externalEventsDetail"):
                raise ValidationException(
                    "INGESTED_EVENTS training needs ingestedEventsDetail (and no other)"
                )
            window = detail["ingestedEventsTimeWindow"]
            if parse_time(window["startTime"], "startTime") >= parse_time(window["endTime"], "endTime"):
                raise ValidationException(
                    "The ingestedEventsTimeWindow's startTime must be before its endTime"
                )
            request["ingestedEventsDetail"] = detail
        tags = tag_map(params.get("tags"))
        existing = self.store.scan("model_version", f"{model_id}/{model_type}/")
        number = f"{max((int(float(v.body['modelVersionNumber'])) for v in existing), default=0) + 1}.0"
        body = request | {
            "modelId": model_id,
            "modelType": model_type,
            "modelVersionNumber": number,
            "status": TRAINING,
            "trainingDataSource": source,
            "trainingDataSchema": schema,
            "eventTypeName": model["eventTypeName"],
        }
        key = version_key(model_id, model_type, number)
        self.store.put("model_version", key, body)
        if tags:
            self.store.set_tags(self._arn(ctx, version_arn(key)), tags)
        self._queue(key)
        return {
            "modelId": model_id,
            "modelType": model_type,
            "modelVersionNumber": number,
            "status": TRAINING,
        }

    def _check_schema(self, schema: dict[str, Any], event_type: dict[str, Any]) -> None:
        variables = schema["modelVariables"]
        if not variables:
            raise ValidationException("trainingDataSchema.modelVariables must name at least one variable")
        for name in variables:
            if name not in event_type["eventVariables"]:
                raise ValidationException(
                    f"The model variable {name} is not a variable of {event_type['name']}"
                )
        mapper = (schema.get("labelSchema") or {}).get("labelMapper") or {}
        if set(mapper) != {"FRAUD", "LEGIT"}:
            raise ValidationException("labelSchema.labelMapper must map FRAUD and LEGIT to event labels")
        for label in mapper["FRAUD"] + mapper["LEGIT"]:
            if label not in event_type["labels"]:
                raise ValidationException(f"The label {label} is not a label of {event_type['name']}")
        if set(mapper["FRAUD"]) & set(mapper["LEGIT"]) or not mapper["FRAUD"] or not mapper["LEGIT"]:
            raise ValidationException("FRAUD and LEGIT must each map to labels of their own")

    def _version(self, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        key = version_key(params["modelId"], params["modelType"], params["modelVersionNumber"])
        found = self.store.get("model_version", key)
        if found is None:
            raise ResourceNotFoundException(
                f"The model version {params['modelId']} {params['modelVersionNumber']} does not exist"
            )
        return key, found.body | stamped(found)

    def get_model_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, body = self._version(params)
        keep = ("modelId", "modelType", "modelVersionNumber", "trainingDataSource", "trainingDataSchema",
                "externalEventsDetail", "ingestedEventsDetail", "status")  # fmt: skip
        return {k: body[k] for k in keep if k in body} | {"arn": self._arn(ctx, version_arn(key))}

    def describe_model_versions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self.store.scan("model_version")
        for member in ("modelId", "modelType", "modelVersionNumber"):
            if params.get(member):
                found = [v for v in found if v.body[member] == params[member]]
        items = []
        for version in found:
            body = {k: v for k, v in version.body.items() if k not in ("eventTypeName", "result")}
            items.append(
                body
                | self._results(version.body.get("result"))
                | stamped(version)
                | {"arn": self._arn(ctx, version_arn(version.key))}
            )
        return self._page(items, params, "modelVersionDetails")

    @staticmethod
    def _results(result: dict[str, Any] | None) -> dict[str, Any]:
        if not result:
            return {}
        validation = {"fileLevelMessages": result.get("fileLevelMessages", []), "fieldLevelMessages": []}
        output: dict[str, Any] = {"trainingResult": {"dataValidationMetrics": validation}}
        if "metrics" not in result:
            return output
        importance = {"logOddsMetrics": result["importance"]}
        output["trainingResult"] |= {
            "trainingMetrics": result["metrics"],
            "variableImportanceMetrics": importance,
        }
        low, high = result["uncertainty"]
        family = "tfi" if result["modelType"] == "TRANSACTION_FRAUD_INSIGHTS" else "ofi"
        performance = {
            "auc": result["metrics"]["auc"],
            "uncertaintyRange": {"lowerBoundValue": low, "upperBoundValue": high},
        }
        output["trainingResultV2"] = {
            "dataValidationMetrics": validation,
            "trainingMetricsV2": {
                family: {
                    "metricDataPoints": result["metrics"]["metricDataPoints"],
                    "modelPerformance": performance,
                }
            },
            "variableImportanceMetrics": importance,
        }
        return output

    def update_model_version_status(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key, body = self._version(params)
        status, wanted = body["status"], params["status"]
        allowed = {
            "ACTIVE": ("TRAINING_COMPLETE", "INACTIVE", "ACTIVE"),
            "INACTIVE": ("ACTIVE", "INACTIVE"),
            "TRAINING_CANCELLED": (TRAINING,),
        }[wanted]
        if status not in allowed:
            raise ValidationException(f"A model version that is {status} cannot become {wanted}")
        if wanted == "INACTIVE" and self._used_by_active_detector(params):
            raise ConflictException("The model version is used by an ACTIVE detector version")
        seen: list[str] = []

        def change(now: dict[str, Any]) -> dict[str, Any] | None:
            seen.append(now["status"])  # checked again where it is written: training may have ended
            return {"status": wanted} if now["status"] in allowed else None

        if self.store.update_with("model_version", key, change) is None:
            now = seen[-1] if seen else "DELETED"
            raise ValidationException(f"A model version that is {now} cannot become {wanted}")
        return {}

    def _used_by_active_detector(self, params: dict[str, Any]) -> bool:
        wanted = (params["modelId"], params["modelType"], params["modelVersionNumber"])
        for version in self.store.scan("detector_version"):
            models = {
                (m["modelId"], m["modelType"], m["modelVersionNumber"]) for m in version.body["modelVersions"]
            }
            if version.body["status"] == "ACTIVE" and wanted in models:
                return True
        return False

    def delete_model_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = version_key(params["modelId"], params["modelType"], params["modelVersionNumber"])
        found = self.store.get("model_version", key)
        if found is None:
            return {}
        if found.body["status"] in ("ACTIVE", TRAINING):
            raise ConflictException(f"A model version that is {found.body['status']} cannot be deleted")
        for version in self.store.scan("detector_version"):
            if any(
                version_key(m["modelId"], m["modelType"], m["modelVersionNumber"]) == key
                for m in version.body["modelVersions"]
            ):
                raise ConflictException(f"The model version is used by detector version {version.key}")
        self.store.delete("model_version", key)
        self._models_cache.pop(str(self.model_dir / f"{key}.pkl"), None)
        (self.model_dir / f"{key}.pkl").unlink(missing_ok=True)
        return {}

    def fraud_model(self, key: str) -> FraudModel:
        """The trained model of a version, loaded once."""
        path = self.model_dir / f"{key}.pkl"
        if str(path) not in self._models_cache:
            self._models_cache[str(path)] = FraudModel.load(path)
        return self._models_cache[str(path)]

    # the background thread's work
    def work(self, key: str) -> None:
        """One queued piece of long work: a batch import, a batch prediction or a model version to train."""
        if key.startswith("import:"):
            self._run_import(key.removeprefix("import:"))
            return
        if key.startswith("prediction:"):
            self._run_batch_prediction(key.removeprefix("prediction:"))
            return
        version = self.store.get("model_version", key)
        if version is None or version.body["status"] != TRAINING:
            return
        try:
            result, status = self._train(key, version.body), "TRAINING_COMPLETE"
        except TrainingFailed as failure:
            message = {"title": "Data validation failed", "content": str(failure), "type": "ERROR"}
            result, status = {"fileLevelMessages": [message]}, "ERROR"
        except Exception as error:  # a bug or unreadable data: the version fails, the thread goes on
            log.exception("training %s failed", key)
            message = {
                "title": "Training failed",
                "content": f"{type(error).__name__}: {error}",
                "type": "ERROR",
            }
            result, status = {"fileLevelMessages": [message]}, "ERROR"
        ended = {
            "status": status,
            "result": result,
        }  # only from TRAINING, in one transaction: a cancel stands
        if self.store.update_with(
            "model_version", key, lambda now: ended if now["status"] == TRAINING else None
        ):
            return
        if self.store.get("model_version", key) is None:  # deleted while it trained: its model goes too
            self._models_cache.pop(str(self.model_dir / f"{key}.pkl"), None)
            (self.model_dir / f"{key}.pkl").unlink(missing_ok=True)

    def _train(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        schema = body["trainingDataSchema"]
        columns = self._columns(schema["modelVariables"])
        rows, labels = self._training_data(body, schema)
        output = train(columns, rows, labels, by_time=body["modelType"] == "TRANSACTION_FRAUD_INSIGHTS")
        output.model.save(self.model_dir / f"{key}.pkl")
        fraud, legit = output.counts
        note = {
            "title": "Training data",
            "content": f"{fraud} fraud and {legit} legitimate events",
            "type": "INFO",
        }
        return {
            "metrics": output.metrics,
            "importance": output.importance,
            "uncertainty": list(output.uncertainty),
            "modelType": body["modelType"],
            "fileLevelMessages": [note],
        }

    def _columns(self, names: list[str]) -> list[Column]:
        columns = []
        for name in names:
            variable = self.store.get("variable", name)
            if variable is None:
                raise TrainingFailed(f"The model variable {name} no longer exists")
            columns.append(Column(name, variable.body["dataType"], variable.body.get("variableType", "")))
        return columns

    def _training_data(
        self, body: dict[str, Any], schema: dict[str, Any]
    ) -> tuple[list[dict[str, str]], list[int]]:
        """Rows (in time order) and labels 1 fraud / 0 legitimate, after the label schema."""
        mapper = schema["labelSchema"]["labelMapper"]
        to_class = {label: 1 for label in mapper["FRAUD"]} | {label: 0 for label in mapper["LEGIT"]}
        unlabeled = _UNLABELED.get(schema["labelSchema"].get("unlabeledEventsTreatment") or "IGNORE")
        records: list[tuple[float, dict[str, str], str | None]] = []
        if body["trainingDataSource"] == "EXTERNAL_EVENTS":
            records = self._csv_records(
                body["externalEventsDetail"]["dataLocation"], schema["modelVariables"]
            )
        else:
            window = body["ingestedEventsDetail"]["ingestedEventsTimeWindow"]
            start, end = (
                parse_time(window["startTime"], "startTime"),
                parse_time(window["endTime"], "endTime"),
            )
            records = [
                (e.epoch, e.variables, e.label) for e in self.store.events(body["eventTypeName"], start, end)
            ]
        records.sort(key=lambda r: r[0])
        rows, labels = [], []
        for _, variables, label in records:
            y = to_class.get(label) if label else unlabeled
            if y is not None:
                rows.append(variables)
                labels.append(y)
        return rows, labels

    def _csv_records(
        self, location: str, variables: list[str]
    ) -> list[tuple[float, dict[str, str], str | None]]:
        bucket, _, key = location.removeprefix("s3://").partition("/")
        try:
            keys = [key] if key and not key.endswith("/") else []
            if not keys:
                keys = [
                    o.key
                    for o in self.objects.list_objects(bucket, prefix=key).objects
                    if o.key.endswith(".csv")
                ]
            texts = [self.objects.read_object(bucket, k).decode("utf-8-sig") for k in keys]
        except (StoreError, UnicodeDecodeError) as error:
            raise TrainingFailed(f"The training data at {location} cannot be read: {error}") from None
        if not texts:
            raise TrainingFailed(f"No CSV file was found at {location}")
        records = []
        for text in texts:
            reader = csv.DictReader(io.StringIO(text))
            header = {h.strip() for h in reader.fieldnames or []}
            missing = [c for c in ("EVENT_TIMESTAMP", "EVENT_LABEL", *variables) if c not in header]
            if missing:
                raise TrainingFailed(f"The training data lacks the column(s) {', '.join(missing)}")
            for number, row in enumerate(reader, start=2):
                try:
                    epoch = parse_time(row["EVENT_TIMESTAMP"], "EVENT_TIMESTAMP")
                except ValidationException:
                    raise TrainingFailed(
                        f"Line {number}: EVENT_TIMESTAMP {row['EVENT_TIMESTAMP']!r} is not ISO 8601"
                    ) from None
                records.append(
                    (
                        epoch,
                        {v: row[v] for v in variables if row.get(v) not in (None, "")},
                        row["EVENT_LABEL"] or None,
                    )
                )
        return records
