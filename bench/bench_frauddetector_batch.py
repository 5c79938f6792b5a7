"""Fraud Detector batch predictions: events per second through CreateBatchPredictionJob (S3 CSV in, scored
CSV out, through boto3 against a running server) against the same trained model called directly
(scikit-learn's predict_proba on the encoded rows, one OpenMP thread as the service uses: on a busy 2-core
machine its default pool was 10x slower), both alone and as the whole job a caller would write with it (CSV
in, probabilities, the 900-score threshold, CSV out), and against GetEventPrediction one event at a time.

The data are bench_frauddetector's generated events: a model is trained through the service on 10,000 of
them, then 20,000 others are scored. Quality: the AUC of the batch output's MODEL_SCORES against the labels,
beside the AUC of the direct probabilities (the scores are a monotone map of them, so the two should agree).

    .venv/bin/python bench/bench_frauddetector_batch.py
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server import RunningServer

from bench_frauddetector import COLUMNS, _data
from outcrop.services.frauddetector.model import FraudModel

TRAIN, SCORE, SINGLE = 10_000, 20_000, 300
ROLE = "arn:aws:iam::000000000000:role/FraudDetectorRole"
MODEL = {"modelId": "bench_model", "modelType": "ONLINE_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"}
NAMES = [c.name for c in COLUMNS]


def _csv(rows: list[dict[str, str]], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _wait(read: Any, done: set[str]) -> str:
    while (status := read()) not in done:
        time.sleep(0.05)
    return str(status)


def _setup(fd: Any, s3: Any, rows: list[dict[str, str]], labels: list[int]) -> None:
    for column in COLUMNS:
        boolean = column.data_type == "BOOLEAN"  # no variable type fits a BOOLEAN: it goes without one
        fd.create_variable(
            name=column.name,
            dataType=column.data_type,
            dataSource="EVENT",
            defaultValue="false"
            if boolean
            else "0"
            if column.data_type in ("INTEGER", "FLOAT")
            else "unknown",
            **({} if boolean else {"variableType": column.variable_type}),
        )
    fd.put_entity_type(name="customer")
    for label in ("fraud", "legit"):
        fd.put_label(name=label)
    fd.put_outcome(name="block")
    fd.put_event_type(
        name="orders", eventVariables=NAMES, labels=["fraud", "legit"], entityTypes=["customer"]
    )
    s3.create_bucket(Bucket="bench-fraud")
    training = [
        row | {"EVENT_TIMESTAMP": f"2024-01-01T00:00:{i % 60:02d}Z", "EVENT_LABEL": "fraud" if y else "legit"}
        for i, (row, y) in enumerate(zip(rows[:TRAIN], labels[:TRAIN], strict=True))
    ]
    s3.put_object(
        Bucket="bench-fraud", Key="train.csv", Body=_csv(training, ["EVENT_TIMESTAMP", "EVENT_LABEL", *NAMES])
    )
    fd.create_model(modelId="bench_model", eventTypeName="orders", modelType="ONLINE_FRAUD_INSIGHTS")
    schema = {
        "modelVariables": NAMES,
        "labelSchema": {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}},
    }
    fd.create_model_version(
        modelId="bench_model",
        modelType="ONLINE_FRAUD_INSIGHTS",
        trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema=schema,
        externalEventsDetail={"dataLocation": "s3://bench-fraud/train.csv", "dataAccessRoleArn": ROLE},
    )
    status = _wait(lambda: fd.get_model_version(**MODEL)["status"], {"TRAINING_COMPLETE", "ERROR"})
    assert status == "TRAINING_COMPLETE", fd.describe_model_versions(**MODEL)
    fd.update_model_version_status(**MODEL, status="ACTIVE")
    fd.put_detector(detectorId="bench_detector", eventTypeName="orders")
    fd.create_rule(
        ruleId="risky",
        detectorId="bench_detector",
        expression="$bench_model_insightscore >= 900",
        language="DETECTORPL",
        outcomes=["block"],
    )
    rule = {"detectorId": "bench_detector", "ruleId": "risky", "ruleVersion": "1"}
    fd.create_detector_version(detectorId="bench_detector", rules=[rule], modelVersions=[MODEL])
    fd.update_detector_version_status(detectorId="bench_detector", detectorVersionId="1", status="ACTIVE")


def _direct_pipeline(model: FraudModel, data: bytes) -> bytes:
    """What a caller of the library writes for the same job: CSV in, the model's probabilities, the rule as a
    probability threshold (the one the 900 score stands for), CSV out."""
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    probabilities = model.estimator.predict_proba(model.encoder.transform(rows))[:, 1]
    cut = model.legit_validation[int(0.98 * len(model.legit_validation))]
    for row, p in zip(rows, probabilities, strict=True):
        row["SCORE"], row["OUTCOME"] = f"{p:.4f}", "block" if p >= cut else ""
    return _csv(rows, [*rows[0]])


def run() -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    rows, labels, _, _ = _data()
    scored_rows = rows[TRAIN : TRAIN + SCORE]
    scored_labels = labels[TRAIN : TRAIN + SCORE]
    events = [
        row
        | {
            "EVENT_ID": f"b{i}",
            "EVENT_TIMESTAMP": "2024-06-01T00:00:00Z",
            "ENTITY_ID": f"c{i}",
            "ENTITY_TYPE": "customer",
        }
        for i, row in enumerate(scored_rows)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        server = RunningServer(Path(tmp) / "data").start()
        try:
            fd, s3 = server.client("frauddetector"), server.client("s3")
            _setup(fd, s3, rows, labels)
            batch_csv = _csv(events, ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", *NAMES])
            s3.put_object(Bucket="bench-fraud", Key="batch.csv", Body=batch_csv)
            started = time.perf_counter()
            fd.create_batch_prediction_job(
                jobId="bench",
                inputPath="s3://bench-fraud/batch.csv",
                outputPath="s3://bench-fraud/out/",
                eventTypeName="orders",
                detectorName="bench_detector",
                iamRoleArn=ROLE,
            )
            jobs = fd.get_batch_prediction_jobs
            status = _wait(
                lambda: jobs(jobId="bench")["batchPredictions"][0]["status"], {"COMPLETE", "FAILED"}
            )
            batch_s = time.perf_counter() - started
            assert status == "COMPLETE", jobs(jobId="bench")
            body = s3.get_object(Bucket="bench-fraud", Key="out/bench_output.csv")["Body"].read().decode()
            output = list(csv.DictReader(io.StringIO(body)))
            batch_scores = [json.loads(r["MODEL_SCORES"])["bench_model_insightscore"] for r in output]

            started = time.perf_counter()
            for event in events[:SINGLE]:
                fd.get_event_prediction(
                    detectorId="bench_detector",
                    eventId=event["EVENT_ID"],
                    eventTypeName="orders",
                    eventTimestamp=event["EVENT_TIMESTAMP"],
                    entities=[{"entityType": "customer", "entityId": "c"}],
                    eventVariables={n: event[n] for n in NAMES},
                )
            single_s = time.perf_counter() - started
            path = Path(tmp) / "data" / "frauddetector" / "models" / "us-east-1" / "000000000000"
            model = FraudModel.load(path / "bench_model" / "ONLINE_FRAUD_INSIGHTS" / "1.0.pkl")
        finally:
            server.stop()
    best, best_pipeline = float("inf"), float("inf")
    with threadpool_limits(1):  # the faster setting here, as the service scores
        for _ in range(3):
            started = time.perf_counter()
            probabilities = model.estimator.predict_proba(model.encoder.transform(scored_rows))[:, 1]
            best = min(best, time.perf_counter() - started)
            started = time.perf_counter()
            _direct_pipeline(model, batch_csv)
            best_pipeline = min(best_pipeline, time.perf_counter() - started)
    return {
        "scored_events": SCORE,
        "batch_job_seconds": round(batch_s, 2),
        "batch_events_per_s": round(SCORE / batch_s),
        "direct_pipeline_seconds": round(best_pipeline, 3),
        "throughput_ratio_vs_pipeline": round(best_pipeline / batch_s, 3),
        "throughput_ratio_vs_predict_only": round(best / batch_s, 3),
        "direct_sklearn_seconds": round(best, 3),
        "direct_events_per_s": round(SCORE / best),
        "get_event_prediction_events_per_s": round(SINGLE / single_s, 1),
        "batch_auc": round(float(roc_auc_score(scored_labels, batch_scores)), 4),
        "direct_auc": round(float(roc_auc_score(scored_labels, probabilities)), 4),
        "flagged_at_900": sum(1 for s in batch_scores if s >= 900),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
