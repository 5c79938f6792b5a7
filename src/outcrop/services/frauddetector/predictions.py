"""Events (SendEvent, batch imports from S3) and predictions: model scores, then rules in order.

Every prediction is recorded with what it saw and decided, for GetEventPredictionMetadata and
ListEventPredictions; a prediction on an event type with ingestion ENABLED also stores the event.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from outcrop.services.base import RequestContext
from outcrop.services.frauddetector.catalog import typed_value
from outcrop.services.frauddetector.common import (
    Base,
    ConflictException,
    ResourceNotFoundException,
    ValidationException,
    iso,
    parse_time,
    tag_map,
    version_arn,
)
from outcrop.services.frauddetector.rules import evaluate, parse, with_values
from outcrop.services.frauddetector.store import StoredEvent
from outcrop.storage.objects import ObjectAttributes, StoreError

_IMPORT_COLUMNS = ("EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE")
_IMPORTING = ("IN_PROGRESS_INITIALIZING", "IN_PROGRESS")


class Predictions(Base):
    def _event_type(self, name: str) -> dict[str, Any]:
        found = self.store.get("event_type", name)
        if found is None:
            raise ResourceNotFoundException(f"The event type {name} does not exist")
        return found.body

    def _check_event(self, event_type: dict[str, Any], params: dict[str, Any]) -> None:
        for entity in params["entities"]:
            if entity["entityType"] not in event_type["entityTypes"]:
                raise ValidationException(
                    f"The entity type {entity['entityType']} is not one of {event_type['name']}'s"
                )
        unknown = [n for n in params["eventVariables"] if n not in event_type["eventVariables"]]
        if unknown:
            raise ValidationException(
                f"The variable {unknown[0]} is not a variable of the event type {event_type['name']}"
            )

    # events
    def send_event(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        event_type = self._event_type(params["eventTypeName"])
        if event_type["eventIngestion"] != "ENABLED":
            raise ValidationException(f"Event ingestion is DISABLED for the event type {event_type['name']}")
        if not self.store.put_events([self._stored(event_type, params)])[0]:
            raise ConflictException(f"An event with the id {params['eventId']} is already stored")
        return {}

    def _stored(self, event_type: dict[str, Any], params: dict[str, Any]) -> StoredEvent:
        """A checked event to store (SendEvent's checks, also applied to each imported row)."""
        self._check_event(event_type, params)
        label, label_time = params.get("assignedLabel"), params.get("labelTimestamp")
        if label and label not in event_type["labels"]:
            raise ValidationException(
                f"The label {label} is not a label of the event type {event_type['name']}"
            )
        if bool(label) != bool(label_time):
            raise ValidationException("assignedLabel and labelTimestamp go together")
        if label_time:
            parse_time(label_time, "labelTimestamp")
        return StoredEvent(
            event_type["name"],
            params["eventId"],
            params["eventTimestamp"],
            parse_time(params["eventTimestamp"], "eventTimestamp"),
            label,
            label_time,
            params["entities"],
            params["eventVariables"],
        )

    def get_event(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        event = self.store.get_event(params["eventTypeName"], params["eventId"])
        if event is None:
            raise ResourceNotFoundException(f"The event {params['eventId']} does not exist")
        found: dict[str, Any] = {
            "eventId": event.event_id,
            "eventTypeName": event.event_type,
            "eventTimestamp": event.timestamp,
            "eventVariables": event.variables,
            "entities": event.entities,
        }
        if event.label:
            found |= {"currentLabel": event.label, "labelTimestamp": event.label_timestamp}
        return {"event": found}

    def delete_event(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.store.delete_event(
            params["eventTypeName"],
            params["eventId"],
            with_predictions=bool(params.get("deleteAuditHistory")),
        )
        return {}

    def delete_events_by_event_type(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Done at once, in one transaction: the status a client polls for is already COMPLETE."""
        name = self._event_type(params["eventTypeName"])["name"]
        self.store.delete_events(name)
        self.store.put("events_deletion", name, {"eventTypeName": name, "eventsDeletionStatus": "COMPLETE"})
        return {"eventTypeName": name, "eventsDeletionStatus": "COMPLETE"}

    def get_delete_events_by_event_type_status(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name = self._event_type(params["eventTypeName"])["name"]
        found = self.store.get("events_deletion", name)
        if found is None:
            raise ResourceNotFoundException(f"No deletion of the events of {name} was started")
        return dict(found.body)

    def update_event_label(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        event_type = self._event_type(params["eventTypeName"])
        if params["assignedLabel"] not in event_type["labels"]:
            raise ValidationException(
                f"The label {params['assignedLabel']} is not a label of {event_type['name']}"
            )
        parse_time(params["labelTimestamp"], "labelTimestamp")
        if not self.store.label_event(
            event_type["name"], params["eventId"], params["assignedLabel"], params["labelTimestamp"]
        ):
            raise ResourceNotFoundException(f"The event {params['eventId']} does not exist")
        return {}

    # predictions
    def get_event_prediction(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        detector = self._need("detector", params["detectorId"], "detector").body
        if detector["eventTypeName"] != params["eventTypeName"]:
            raise ValidationException(
                f"The detector {detector['detectorId']} evaluates {detector['eventTypeName']} events"
            )
        if params.get("externalModelEndpointDataBlobs"):
            raise ValidationException(
                "Outcrop does not serve external (SageMaker) model endpoints in detectors"
            )
        version = self._prediction_version(detector["detectorId"], params.get("detectorVersionId"))
        event_type = self._event_type(detector["eventTypeName"])
        self._check_event(event_type, params)
        event_epoch = parse_time(params["eventTimestamp"], "eventTimestamp")
        raw, sources = self._raw_values(event_type, params["eventVariables"])
        values = {name: typed_value(v, self._data_type(name)) for name, v in raw.items()}
        model_scores, evaluated_models = [], []
        for model in version["modelVersions"]:
            key = f"{model['modelId']}/{model['modelType']}/{model['modelVersionNumber']}"
            fraud_model = self.fraud_model(key)
            row = {k: v for k, v in raw.items() if sources[k] == "EVENT"}
            score, impacts = fraud_model.explain(row)
            output = f"{model['modelId']}_insightscore"
            values[output] = score
            model_scores.append(
                {
                    "modelVersion": model | {"arn": self._arn(ctx, version_arn(key))},
                    "scores": {output: score},
                }
            )
            evaluated_models.append(_evaluated_model(model, output, score, impacts))
        rule_results, evaluated_rules = self._run_rules(version, values)
        now = time.time()
        if event_type["eventIngestion"] == "ENABLED":
            stored = StoredEvent(event_type["name"], params["eventId"], params["eventTimestamp"], event_epoch,
                                 None, None, params["entities"], params["eventVariables"])  # fmt: skip
            self.store.put_events([stored])
        entity = params["entities"][0] if params["entities"] else {"entityId": "", "entityType": ""}
        record = {
            "eventId": params["eventId"],
            "eventTypeName": event_type["name"],
            "entityId": entity["entityId"],
            "entityType": entity["entityType"],
            "eventTimestamp": iso(event_epoch),
            "detectorId": detector["detectorId"],
            "detectorVersionId": version["detectorVersionId"],
            "detectorVersionStatus": version["status"],
            "eventVariables": [{"name": n, "value": raw[n], "source": sources[n]} for n in raw],
            "rules": evaluated_rules,
            "ruleExecutionMode": version["ruleExecutionMode"],
            "outcomes": list(dict.fromkeys(o for r in rule_results for o in r["outcomes"])),
            "evaluatedModelVersions": evaluated_models,
            "evaluatedExternalModels": [],
            "predictionTimestamp": iso(now),
        }
        self.store.add_prediction(params["eventId"], event_type["name"], detector["detectorId"],
                                  version["detectorVersionId"], now, record)  # fmt: skip
        return {"modelScores": model_scores, "ruleResults": rule_results, "externalModelOutputs": []}

    def _prediction_version(self, detector_id: str, version_id: str | None) -> dict[str, Any]:
        if version_id:
            found = self.store.get("detector_version", f"{detector_id}/{version_id}")
            if found is None:
                raise ResourceNotFoundException(
                    f"The detector version {detector_id} {version_id} does not exist"
                )
            return found.body
        for version in self.store.scan("detector_version", detector_id + "/"):
            if version.body["status"] == "ACTIVE":
                return version.body
        raise ResourceNotFoundException(f"The detector {detector_id} has no ACTIVE detector version")

    def _data_type(self, name: str) -> str:
        variable = self.store.get("variable", name)
        return variable.body["dataType"] if variable else "STRING"

    def _raw_values(
        self, event_type: dict[str, Any], given: dict[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Each event variable's value as sent, or its default value where the event lacks it."""
        raw, sources = {}, {}
        for name in event_type["eventVariables"]:
            if name in given:
                raw[name], sources[name] = given[name], "EVENT"
            else:
                variable = self.store.get("variable", name)
                raw[name], sources[name] = (variable.body["defaultValue"] if variable else ""), "DEFAULT"
        return raw, sources

    def _run_rules(
        self, version: dict[str, Any], values: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        results, evaluated = [], []
        first = version["ruleExecutionMode"] == "FIRST_MATCHED"
        done = False
        for reference in version["rules"]:
            key = f"{reference['detectorId']}/{reference['ruleId']}/{reference['ruleVersion']}"
            rule = self._need("rule", key, "rule").body
            parsed = parse(rule["expression"])
            entry: dict[str, Any] = {
                "ruleId": rule["ruleId"],
                "ruleVersion": rule["ruleVersion"],
                "expression": rule["expression"],
                "outcomes": rule["outcomes"],
                "evaluated": not done,
                "matched": False,
            }
            if not done:
                entry["expressionWithValues"] = with_values(parsed, values)
                entry["matched"] = evaluate(parsed, values, self.list_elements(parsed.lists))
                if entry["matched"]:
                    results.append({"ruleId": rule["ruleId"], "outcomes": rule["outcomes"]})
                    done = first
            evaluated.append(entry)
        return results, evaluated

    def get_event_prediction_metadata(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = parse_time(params["predictionTimestamp"], "predictionTimestamp")
        filters = {"event_id": params["eventId"], "event_type": params["eventTypeName"],
                   "detector": params["detectorId"], "version": params["detectorVersionId"]}  # fmt: skip
        for record in self.store.predictions(filters, wanted - 1.0, wanted + 1.0):
            if abs(parse_time(record["predictionTimestamp"], "predictionTimestamp") - wanted) < 0.001:
                found: dict[str, Any] = record
                return found
        raise ResourceNotFoundException(
            f"No prediction of the event {params['eventId']} was made at that time"
        )

    def list_event_predictions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        filters = {column: params[member]["value"] for column, member in
                   (("event_id", "eventId"), ("event_type", "eventType"), ("detector", "detectorId"),
                    ("version", "detectorVersionId")) if (params.get(member) or {}).get("value")}  # fmt: skip
        span = params.get("predictionTimeRange")
        start = parse_time(span["startTime"], "startTime") if span else 0.0
        end = parse_time(span["endTime"], "endTime") if span else time.time() + 1
        keep = (
            "eventId",
            "eventTypeName",
            "eventTimestamp",
            "predictionTimestamp",
            "detectorId",
            "detectorVersionId",
        )
        items = [{k: r[k] for k in keep} for r in self.store.predictions(filters, start, end)]
        return self._page(items, params, "eventPredictionSummaries")

    # batch imports
    def create_batch_import_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        event_type = self._event_type(params["eventTypeName"])
        if event_type["eventIngestion"] != "ENABLED":
            raise ValidationException(f"Event ingestion is DISABLED for the event type {event_type['name']}")
        bucket, _, key = params["inputPath"].removeprefix("s3://").partition("/")
        try:
            self.objects.head_object(bucket, key)
        except StoreError:
            raise ValidationException(f"The input file {params['inputPath']} does not exist") from None
        tags = tag_map(params.get("tags"))
        body = {k: params[k] for k in ("jobId", "inputPath", "outputPath", "eventTypeName", "iamRoleArn")}
        if not self.store.create(
            "batch_import",
            params["jobId"],
            body | {"status": "IN_PROGRESS_INITIALIZING", "startTime": iso(time.time())},
        ):
            raise ValidationException(f"A batch import job with the id {params['jobId']} already exists")
        if tags:
            self.store.set_tags(self._arn(ctx, f"batch-import/{params['jobId']}"), tags)
        self._queue("import:" + params["jobId"])
        return {}

    def get_batch_import_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self.store.scan("batch_import")
        if params.get("jobId"):
            found = [j for j in found if j.key == params["jobId"]]
            if not found:
                raise ResourceNotFoundException(f"The batch import job {params['jobId']} does not exist")
        items = [j.body | {"arn": self._arn(ctx, f"batch-import/{j.key}")} for j in found]
        return self._page(items, params, "batchImports")

    def cancel_batch_import_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._need("batch_import", params["jobId"], "batch import job")
        seen: list[str] = []

        def cancel(job: dict[str, Any]) -> dict[str, Any] | None:
            seen.append(job["status"])  # read and written in one transaction: an ended job refuses
            if job["status"] not in _IMPORTING:
                return None
            return {"status": "CANCELED", "completionTime": iso(time.time())}

        if self.store.update_with("batch_import", params["jobId"], cancel) is None:
            status = seen[-1] if seen else "DELETED"
            raise ValidationException(f"A batch import job that is {status} cannot be cancelled")
        return {}

    def delete_batch_import_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.store.delete("batch_import", params["jobId"])
        return {}

    def _run_import(self, job_id: str) -> None:
        job = self.store.get("batch_import", job_id)
        if job is None or job.body["status"] not in _IMPORTING:
            return
        started = {"status": "IN_PROGRESS"}
        if (
            self.store.update_with(
                "batch_import", job_id, lambda now: started if now["status"] in _IMPORTING else None
            )
            is None
        ):
            return  # cancelled (or deleted) since it was read
        body = job.body
        bucket, _, key = body["inputPath"].removeprefix("s3://").partition("/")
        try:
            text = self.objects.read_object(bucket, key).decode("utf-8-sig")
            event_type = self._event_type(body["eventTypeName"])
            processed, failed = self._import_rows(event_type, text, body["outputPath"], job_id)
        except (StoreError, UnicodeDecodeError, ResourceNotFoundException, ValidationException) as error:
            changes: dict[str, Any] = {
                "status": "FAILED",
                "failureReason": str(error),
                "completionTime": iso(time.time()),
            }
        else:
            changes = {
                "status": "COMPLETE",
                "processedRecordsCount": processed,
                "failedRecordsCount": failed,
                "totalRecordsCount": processed + failed,
                "completionTime": iso(time.time()),
            }
        # only from IN_PROGRESS, in one transaction: a cancel that landed meanwhile stands
        self.store.update_with(
            "batch_import", job_id, lambda now: changes if now["status"] == "IN_PROGRESS" else None
        )

    def _import_rows(
        self, event_type: dict[str, Any], text: str, output: str, job_id: str
    ) -> tuple[int, int]:
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in _IMPORT_COLUMNS if c not in header]
        if missing:
            raise ValidationException(f"The input file lacks the column(s) {', '.join(missing)}")
        variables = [h for h in header if h in event_type["eventVariables"]]
        processed, failures = 0, []
        good: list[tuple[int, StoredEvent]] = []
        for number, row in enumerate(reader, start=2):
            try:
                label = row.get("EVENT_LABEL") or None
                params = {
                    "eventId": row["EVENT_ID"],
                    "eventTypeName": event_type["name"],
                    "eventTimestamp": row["EVENT_TIMESTAMP"],
                    "entities": [{"entityType": row["ENTITY_TYPE"], "entityId": row["ENTITY_ID"]}],
                    "eventVariables": {v: row[v] for v in variables if row.get(v) not in (None, "")},
                }
                if label:
                    params |= {
                        "assignedLabel": label,
                        "labelTimestamp": row.get("LABEL_TIMESTAMP") or row["EVENT_TIMESTAMP"],
                    }
                good.append((number, self._stored(event_type, params)))
            except ValidationException as error:
                failures.append(f"{number},{row.get('EVENT_ID', '')},{error.message.replace(',', ';')}")
        stored = self.store.put_events([event for _, event in good], each=True)
        for (number, event), written in zip(good, stored, strict=True):
            if written:
                processed += 1
            else:
                failures.append(f"{number},{event.event_id},An event with this id is already stored")
        failures.sort(key=lambda line: int(line.split(",")[0]))
        bucket, _, prefix = output.removeprefix("s3://").partition("/")
        report = "line,EVENT_ID,error\n" + "\n".join(failures) + "\n"
        try:
            key = f"{prefix.rstrip('/')}/{job_id}_failed_records.csv".lstrip("/")
            self.objects.put_object(bucket, key, report.encode(), ObjectAttributes(content_type="text/csv"))
        except StoreError as error:
            raise ValidationException(f"The failed records cannot be written to {output}: {error}") from None
        return processed, len(failures)


def _evaluated_model(
    model: dict[str, Any], output: str, score: float, impacts: dict[str, float]
) -> dict[str, Any]:
    strongest = max((abs(v) for v in impacts.values()), default=0.0) or 1.0
    explanations = [
        {
            "eventVariableName": name,
            "relativeImpact": str(round(5 * abs(value) / strongest)),
            "logOddsImpact": round(value, 4),
        }
        for name, value in sorted(impacts.items(), key=lambda kv: -abs(kv[1]))
    ]
    return {
        "modelId": model["modelId"],
        "modelVersion": model["modelVersionNumber"],
        "modelType": model["modelType"],
        "evaluations": [
            {
                "outputVariableName": output,
                "evaluationScore": f"{score:g}",
                "predictionExplanations": {"variableImpactExplanations": explanations},
            }
        ],
    }
