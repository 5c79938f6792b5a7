"""Batch predictions: a CSV of events in S3 scored through a detector version, as GetEventPrediction scores
one, by the background thread; the results go to the output path as a CSV.

The input's header names EVENT_ID, EVENT_TIMESTAMP, ENTITY_ID, ENTITY_TYPE and the event type's variables
(a variable left out or empty takes its default value). The output, `<outputPath>/<jobId>_output.csv`, is
the input with AWS's four columns added: MODEL_SCORES (a JSON object, score variable to score), OUTCOMES
(a JSON list), RULE_RESULTS (the matched rule ids, a JSON list, after the rule execution mode) and STATUS
(SUCCESS, or why that event could not be evaluated). The file is written once, when every row is scored, so a
job a stopped server left IN_PROGRESS runs again from the start when it comes back. Jobs run one at a time.
"""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

from outcrop.services.base import RequestContext
from outcrop.services.frauddetector.catalog import typed_value
from outcrop.services.frauddetector.common import (
    Base,
    ResourceNotFoundException,
    ValidationException,
    identifier,
    iso,
    parse_time,
    tag_map,
)
from outcrop.services.frauddetector.rules import evaluate, parse
from outcrop.storage.objects import ObjectAttributes, StoreError

KIND = "batch_prediction"
RUNNING = ("IN_PROGRESS_INITIALIZING", "IN_PROGRESS")
_REQUIRED = ("EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE")
_ADDED = ("MODEL_SCORES", "OUTCOMES", "RULE_RESULTS", "STATUS")
CHUNK = 5000  # rows scored per model call (a call costs ~30 ms whatever its size); cancellation and
# the heartbeat are checked between chunks


class Cancelled(Exception):
    """The job was cancelled while it ran."""


def s3_parts(path: str) -> tuple[str, str]:
    bucket, _, key = path.removeprefix("s3://").partition("/")
    return bucket, key


class BatchPredictions(Base):
    def _event_type(self, name: str) -> dict[str, Any]:
        raise NotImplementedError  # Predictions provides it

    def _prediction_version(self, detector_id: str, version_id: str | None) -> dict[str, Any]:
        raise NotImplementedError  # Predictions provides it

    def _raw_values(
        self, event_type: dict[str, Any], given: dict[str, str]
    ) -> tuple[dict[str, str], dict[str, str]]:
        raise NotImplementedError  # Predictions provides it

    def _data_type(self, name: str) -> str:
        raise NotImplementedError  # Predictions provides it

    def create_batch_prediction_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        job_id = identifier(params["jobId"], "jobId")
        detector = self._need("detector", params["detectorName"], "detector").body
        if detector["eventTypeName"] != params["eventTypeName"]:
            raise ValidationException(
                f"The detector {detector['detectorId']} evaluates {detector['eventTypeName']} events, "
                f"not {params['eventTypeName']}"
            )
        self._event_type(params["eventTypeName"])
        version = self._prediction_version(detector["detectorId"], params.get("detectorVersion"))
        if version.get("externalModelEndpoints"):
            raise ValidationException(
                "Outcrop does not serve external (SageMaker) model endpoints in detectors"
            )
        bucket, key = s3_parts(params["inputPath"])
        try:
            self.objects.head_object(bucket, key)
        except StoreError:
            raise ValidationException(f"The input file {params['inputPath']} does not exist") from None
        out_bucket, _ = s3_parts(params["outputPath"])
        try:
            self.objects.get_bucket(out_bucket)
        except StoreError:
            raise ValidationException(f"The output bucket {out_bucket} does not exist") from None
        tags = tag_map(params.get("tags"))
        body = {k: params[k] for k in ("jobId", "inputPath", "outputPath", "eventTypeName", "iamRoleArn")}
        body |= {
            "detectorName": detector["detectorId"],
            "detectorVersion": f"{version['detectorVersionId']}.0",
            "status": "IN_PROGRESS_INITIALIZING",
            "startTime": iso(time.time()),
        }
        if not self.store.create(KIND, job_id, body):
            raise ValidationException(f"A batch prediction job with the id {job_id} already exists")
        if tags:
            self.store.set_tags(self._arn(ctx, f"batch-prediction/{job_id}"), tags)
        self._queue("prediction:" + job_id)
        return {}

    def get_batch_prediction_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self.store.scan(KIND)
        if params.get("jobId"):
            found = [j for j in found if j.key == params["jobId"]]
            if not found:
                raise ResourceNotFoundException(f"The batch prediction job {params['jobId']} does not exist")
        found.sort(key=lambda j: j.created)
        items = [j.body | {"arn": self._arn(ctx, f"batch-prediction/{j.key}")} for j in found]
        return self._page(items, params, "batchPredictions")

    def cancel_batch_prediction_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._need(KIND, params["jobId"], "batch prediction job")
        seen: list[str] = []

        def cancel(job: dict[str, Any]) -> dict[str, Any] | None:
            seen.append(job["status"])
            if job["status"] not in RUNNING:
                return None
            # not started yet: cancelled now; running: the job stops at its next chunk and says CANCELED
            if job["status"] == "IN_PROGRESS_INITIALIZING":
                return {"status": "CANCELED", "completionTime": iso(time.time())}
            return {"status": "CANCEL_IN_PROGRESS"}

        if self.store.update_with(KIND, params["jobId"], cancel) is None:
            status = seen[-1] if seen else "DELETED"
            raise ValidationException(f"A batch prediction job that is {status} cannot be cancelled")
        return {}

    def delete_batch_prediction_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        job = self.store.get(KIND, params["jobId"])
        if job is not None and job.body["status"] in (*RUNNING, "CANCEL_IN_PROGRESS"):
            raise ValidationException(
                f"The batch prediction job {params['jobId']} is {job.body['status']}: cancel it first"
            )
        self.store.delete(KIND, params["jobId"])
        self.store.set_tags(self._arn(ctx, f"batch-prediction/{params['jobId']}"), {})
        return {}

    # the background thread's part
    def _run_batch_prediction(self, job_id: str) -> None:
        job = self.store.get(KIND, job_id)
        if job is None:
            return
        if job.body["status"] == "CANCEL_IN_PROGRESS":
            self._finish(job_id, {"status": "CANCELED"})
            return
        if job.body["status"] not in RUNNING:
            return
        started = {"status": "IN_PROGRESS", "lastHeartbeatTime": iso(time.time())}
        if (
            self.store.update_with(KIND, job_id, lambda now: started if now["status"] in RUNNING else None)
            is None
        ):
            return  # cancelled (or deleted) since it was read
        body = job.body
        try:
            text = self.objects.read_object(*s3_parts(body["inputPath"])).decode("utf-8-sig")
            output, processed, total = self._score_file(job_id, body, text)
            bucket, prefix = s3_parts(body["outputPath"])
            key = f"{prefix.rstrip('/')}/{job_id}_output.csv".lstrip("/")
            self.objects.put_object(bucket, key, output.encode(), ObjectAttributes(content_type="text/csv"))
        except Cancelled:
            self._finish(job_id, {"status": "CANCELED"})
            return
        except (StoreError, UnicodeDecodeError, ResourceNotFoundException, ValidationException) as error:
            reason = (
                error.message
                if isinstance(error, ValidationException | ResourceNotFoundException)
                else str(error)
            )
            self._finish(job_id, {"status": "FAILED", "failureReason": reason})
            return
        self._finish(
            job_id, {"status": "COMPLETE", "processedRecordsCount": processed, "totalRecordsCount": total}
        )

    def _finish(self, job_id: str, changes: dict[str, Any]) -> None:
        def end(current: dict[str, Any]) -> dict[str, Any] | None:
            if current["status"] not in (*RUNNING, "CANCEL_IN_PROGRESS"):
                return None  # finished (or cancelled before it started) meanwhile
            cancelled = current["status"] == "CANCEL_IN_PROGRESS"  # a cancel asked for wins
            return ({"status": "CANCELED"} if cancelled else changes) | {"completionTime": iso(time.time())}

        self.store.update_with(KIND, job_id, end)

    def _score_file(self, job_id: str, job: dict[str, Any], text: str) -> tuple[str, int, int]:
        """The output CSV, the number of events evaluated and the number of rows."""
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in _REQUIRED if c not in header]
        if missing:
            raise ValidationException(f"The input file lacks the column(s) {', '.join(missing)}")
        event_type = self._event_type(job["eventTypeName"])
        detector_id, version_id = job["detectorName"], job["detectorVersion"].split(".")[0]
        version = self._prediction_version(detector_id, version_id)
        scorer = _Scorer(self, version)
        rows = [{(k or "").strip(): v or "" for k, v in row.items()} for row in reader]
        results: list[dict[str, str]] = []
        for start in range(0, len(rows), CHUNK):
            current = self.store.get(KIND, job_id)
            if current is None or current.body["status"] == "CANCEL_IN_PROGRESS":
                raise Cancelled
            self.store.update(KIND, job_id, {"lastHeartbeatTime": iso(time.time())})
            results += scorer.score(event_type, rows[start : start + CHUNK])
        out = io.StringIO()
        writer = csv.DictWriter(
            out, fieldnames=[*header, *_ADDED], extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        for row, added in zip(rows, results, strict=True):
            writer.writerow(row | added)
        return out.getvalue(), sum(1 for r in results if r["STATUS"] == "SUCCESS"), len(rows)


class _Scorer:
    """A detector version ready to score many events: its models loaded, rules parsed and lists read once."""

    def __init__(self, owner: BatchPredictions, version: dict[str, Any]) -> None:
        self.owner = owner
        self.first = version["ruleExecutionMode"] == "FIRST_MATCHED"
        self.models = []
        for model in version["modelVersions"]:
            key = f"{model['modelId']}/{model['modelType']}/{model['modelVersionNumber']}"
            self.models.append((f"{model['modelId']}_insightscore", owner.fraud_model(key)))
        self.rules = []
        names: set[str] = set()
        for reference in version["rules"]:
            key = f"{reference['detectorId']}/{reference['ruleId']}/{reference['ruleVersion']}"
            rule = owner._need("rule", key, "rule").body
            parsed = parse(rule["expression"])
            names |= set(parsed.lists)
            self.rules.append((rule, parsed))
        self.lists = owner.list_elements(tuple(sorted(names)))

    def score(self, event_type: dict[str, Any], rows: list[dict[str, str]]) -> list[dict[str, str]]:
        checked: list[tuple[int, dict[str, str], dict[str, str]]] = []
        results = [{"STATUS": ""} for _ in rows]
        for i, row in enumerate(rows):
            reason = _problem(event_type, row)
            if reason:
                results[i] = {"STATUS": reason}
                continue
            given = {n: row[n] for n in event_type["eventVariables"] if row.get(n, "") != ""}
            raw, sources = self.owner._raw_values(event_type, given)
            checked.append((i, raw, sources))
        scores: dict[str, list[float]] = {}
        for output, model in self.models:
            features = [
                {k: v for k, v in raw.items() if sources[k] == "EVENT"} for _, raw, sources in checked
            ]
            scores[output] = model.scores(features) if features else []
        types = {name: self.owner._data_type(name) for name in event_type["eventVariables"]}
        for j, (i, raw, _) in enumerate(checked):
            values: dict[str, Any] = {n: typed_value(v, types.get(n, "STRING")) for n, v in raw.items()}
            model_scores = {output: scores[output][j] for output, _ in self.models}
            values |= model_scores
            matched: list[dict[str, Any]] = []
            for rule, parsed in self.rules:
                if evaluate(parsed, values, self.lists):
                    matched.append(rule)
                    if self.first:
                        break
            outcomes = list(dict.fromkeys(o for rule in matched for o in rule["outcomes"]))
            results[i] = {
                "MODEL_SCORES": json.dumps(
                    {k: round(v) if v == int(v) else v for k, v in model_scores.items()}
                ),
                "OUTCOMES": json.dumps(outcomes),
                "RULE_RESULTS": json.dumps([rule["ruleId"] for rule in matched]),
                "STATUS": "SUCCESS",
            }
        return results


def _problem(event_type: dict[str, Any], row: dict[str, str]) -> str:
    """Why a row cannot be evaluated ('' when it can)."""
    if not row.get("EVENT_ID"):
        return "FAILED: EVENT_ID is empty"
    if row.get("ENTITY_TYPE") not in event_type["entityTypes"]:
        return f"FAILED: the entity type {row.get('ENTITY_TYPE')!r} is not one of {event_type['name']}'s"
    try:
        parse_time(row.get("EVENT_TIMESTAMP", ""), "EVENT_TIMESTAMP")
    except ValidationException as error:
        return "FAILED: " + error.message
    return ""
