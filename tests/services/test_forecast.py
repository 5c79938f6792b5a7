"""Amazon Forecast through boto3: import seasonal series from S3, train, forecast, query and export.

The data have known answers: each item repeats its own weekly pattern (plus a little noise), so a good
predictor's median forecast follows that pattern, its quantiles bracket it, and its MASE is below 1.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest

from tests.server import RunningServer
from tests.services.bad_inputs import refused, unique, wait_for

ROLE = "arn:aws:iam::000000000000:role/ForecastRole"
PATTERNS = {"shoes": [10, 12, 14, 16, 18, 40, 45], "socks": [30, 28, 26, 24, 22, 5, 4], "hats": [7] * 7}
START = date(2024, 1, 1)  # a Monday
DAYS = 84
SCHEMA = {
    "Attributes": [
        {"AttributeName": "timestamp", "AttributeType": "timestamp"},
        {"AttributeName": "target_value", "AttributeType": "float"},
        {"AttributeName": "item_id", "AttributeType": "string"},
    ]
}


def seasonal_csv() -> str:
    rng = np.random.default_rng(7)
    lines = []
    for item, pattern in PATTERNS.items():
        for day in range(DAYS):
            value = pattern[day % 7] + (rng.normal(0, 0.3) if item != "hats" else 0.0)
            lines.append(f"{(START + timedelta(days=day)).isoformat()},{value:.3f},{item}")
    return "\n".join(lines) + "\n"


def wait_status(read: Any, field: str = "Status", timeout: float = 600) -> dict[str, Any]:
    done = wait_for(read, lambda r: r[field] in ("ACTIVE", "CREATE_FAILED"), timeout=timeout)
    assert done[field] in ("ACTIVE", "CREATE_FAILED"), done
    return dict(done)


@pytest.fixture(scope="module")
def forecast(server: RunningServer) -> Any:
    return server.client("forecast")


@pytest.fixture(scope="module")
def group(server: RunningServer, forecast: Any) -> dict[str, str]:
    """A CUSTOM daily dataset group holding the seasonal data, imported and ACTIVE."""
    bucket = unique("forecast-data")
    s3 = server.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="sales/demand.csv", Body=seasonal_csv().encode())
    name = unique("sales").replace("-", "_")
    dataset = forecast.create_dataset(
        DatasetName=name, Domain="CUSTOM", DatasetType="TARGET_TIME_SERIES", DataFrequency="D", Schema=SCHEMA
    )["DatasetArn"]
    group_arn = forecast.create_dataset_group(DatasetGroupName=name, Domain="CUSTOM", DatasetArns=[dataset])[
        "DatasetGroupArn"
    ]
    job = forecast.create_dataset_import_job(
        DatasetImportJobName="first",
        DatasetArn=dataset,
        DataSource={"S3Config": {"Path": f"s3://{bucket}/sales/", "RoleArn": ROLE}},
        TimestampFormat="yyyy-MM-dd",
    )["DatasetImportJobArn"]
    assert job.endswith(f":dataset-import-job/{name}/first")
    described = wait_status(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job))
    assert described["Status"] == "ACTIVE", described
    assert described["FieldStatistics"]["item_id"]["CountDistinct"] == 3
    assert described["FieldStatistics"]["target_value"]["Count"] == 3 * DAYS
    return {"bucket": bucket, "dataset": dataset, "group": group_arn, "name": name}


def test_auto_predictor_forecasts_each_items_weekly_pattern(
    server: RunningServer, forecast: Any, group: dict[str, str]
) -> None:
    name = group["name"]
    predictor = forecast.create_auto_predictor(
        PredictorName=f"{name}_auto",
        ForecastHorizon=7,
        ForecastFrequency="D",
        ForecastTypes=["0.1", "0.5", "0.9", "mean"],
        DataConfig={"DatasetGroupArn": group["group"]},
    )["PredictorArn"]
    described = wait_status(lambda: forecast.describe_auto_predictor(PredictorArn=predictor))
    assert described["Status"] == "ACTIVE", described
    assert described["ForecastHorizon"] == 7 and len(described["DatasetImportJobArns"]) == 1

    metrics = forecast.get_accuracy_metrics(PredictorArn=predictor)
    assert metrics["IsAutoPredictor"] is True
    assert metrics["OptimizationMetric"] == "AverageWeightedQuantileLoss"
    windows = metrics["PredictorEvaluationResults"][0]["TestWindows"]
    assert [w["EvaluationType"] for w in windows] == ["SUMMARY", "COMPUTED"]
    computed = windows[1]
    assert computed["ItemCount"] == 3
    assert computed["TestWindowStart"].date() == START + timedelta(days=DAYS - 7)
    losses = {loss["Quantile"]: loss["LossValue"] for loss in computed["Metrics"]["WeightedQuantileLosses"]}
    assert set(losses) == {0.1, 0.5, 0.9}
    errors = {e["ForecastType"]: e for e in computed["Metrics"]["ErrorMetrics"]}
    assert errors["mean"]["MASE"] < 1.0 and errors["mean"]["WAPE"] < 0.1, errors["mean"]
    assert errors["0.1"]["WAPE"] > errors["mean"]["WAPE"]  # a quantile is a worse point forecast

    made = forecast.create_forecast(ForecastName=f"{name}_fc", PredictorArn=predictor)["ForecastArn"]
    assert wait_status(lambda: forecast.describe_forecast(ForecastArn=made))["Status"] == "ACTIVE"
    query = server.client("forecastquery")
    answer = query.query_forecast(ForecastArn=made, Filters={"item_id": "shoes"})["Forecast"]["Predictions"]
    assert set(answer) == {"p10", "p50", "p90", "mean"}
    first_day = START + timedelta(days=DAYS)
    assert next(p["Timestamp"] for p in answer["p50"]) == f"{first_day.isoformat()}T00:00:00"
    assert len(answer["p50"]) == 7
    for i, point in enumerate(answer["p50"]):
        assert abs(point["Value"] - PATTERNS["shoes"][(DAYS + i) % 7]) < 2.5, answer["p50"]
        assert answer["p10"][i]["Value"] < point["Value"] < answer["p90"][i]["Value"]

    window = query.query_forecast(
        ForecastArn=made,
        Filters={"item_id": "socks"},
        StartDate=f"{(first_day + timedelta(days=2)).isoformat()}T00:00:00",
        EndDate=f"{(first_day + timedelta(days=3)).isoformat()}T00:00:00",
    )["Forecast"]["Predictions"]
    assert len(window["p90"]) == 2
    refused(
        query.query_forecast, "ResourceNotFoundException", ForecastArn=made, Filters={"item_id": "gloves"}
    )
    refused(query.query_forecast, "InvalidInputException", ForecastArn=made, Filters={"store": "x"})

    export = forecast.create_forecast_export_job(
        ForecastExportJobName="out",
        ForecastArn=made,
        Destination={"S3Config": {"Path": f"s3://{group['bucket']}/exports", "RoleArn": ROLE}},
    )["ForecastExportJobArn"]
    assert wait_status(lambda: forecast.describe_forecast_export_job(ForecastExportJobArn=export))[
        "Status"
    ] == ("ACTIVE")
    s3 = server.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=group["bucket"], Prefix="exports/")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("exports/out_") and keys[0].endswith("_part0.csv")
    rows = list(
        csv.DictReader(
            io.StringIO(s3.get_object(Bucket=group["bucket"], Key=keys[0])["Body"].read().decode())
        )
    )
    assert list(rows[0]) == ["item_id", "date", "p10", "p50", "p90", "mean"]
    assert len(rows) == 3 * 7
    hats = [float(r["p50"]) for r in rows if r["item_id"] == "hats"]
    assert all(abs(v - 7) < 0.5 for v in hats), hats

    refused(forecast.delete_predictor, "ResourceInUseException", PredictorArn=predictor)
    listed = forecast.list_forecasts(Filters=[{"Key": "PredictorArn", "Value": predictor, "Condition": "IS"}])
    assert [f["ForecastArn"] for f in listed["Forecasts"]] == [made]


def test_legacy_predictor_with_an_algorithm_arn_reports_each_backtest_window(
    forecast: Any, group: dict[str, str]
) -> None:
    predictor = forecast.create_predictor(
        PredictorName=f"{group['name']}_ets",
        AlgorithmArn="arn:aws:forecast:::algorithm/ETS",
        ForecastHorizon=7,
        EvaluationParameters={"NumberOfBacktestWindows": 2, "BackTestWindowOffset": 7},
        InputDataConfig={"DatasetGroupArn": group["group"]},
        FeaturizationConfig={"ForecastFrequency": "D"},
    )["PredictorArn"]
    described = wait_status(lambda: forecast.describe_predictor(PredictorArn=predictor))
    assert described["Status"] == "ACTIVE", described
    assert described["AlgorithmArn"] == "arn:aws:forecast:::algorithm/ETS"
    assert described["IsAutoPredictor"] is False
    result = forecast.get_accuracy_metrics(PredictorArn=predictor)["PredictorEvaluationResults"]
    assert [r["AlgorithmArn"] for r in result] == ["arn:aws:forecast:::algorithm/ETS"]
    windows = result[0]["TestWindows"]
    assert [w["EvaluationType"] for w in windows] == ["SUMMARY", "COMPUTED", "COMPUTED"]
    assert windows[1]["TestWindowStart"] > windows[2]["TestWindowStart"]
    summary = windows[0]["Metrics"]
    assert summary["AverageWeightedQuantileLoss"] == pytest.approx(
        np.mean([w["Metrics"]["AverageWeightedQuantileLoss"] for w in windows[1:]])
    )


def test_backtest_export_writes_each_windows_forecasts_and_accuracy(
    server: RunningServer, forecast: Any, group: dict[str, str]
) -> None:
    predictor = forecast.create_predictor(
        PredictorName=f"{group['name']}_ets_bt",
        AlgorithmArn="arn:aws:forecast:::algorithm/ETS",
        ForecastHorizon=7,
        EvaluationParameters={"NumberOfBacktestWindows": 2, "BackTestWindowOffset": 7},
        InputDataConfig={"DatasetGroupArn": group["group"]},
        FeaturizationConfig={"ForecastFrequency": "D"},
    )["PredictorArn"]
    assert wait_status(lambda: forecast.describe_predictor(PredictorArn=predictor))["Status"] == "ACTIVE"
    job = forecast.create_predictor_backtest_export_job(
        PredictorBacktestExportJobName="bt",
        PredictorArn=predictor,
        Destination={"S3Config": {"Path": f"s3://{group['bucket']}/backtests/", "RoleArn": ROLE}},
    )["PredictorBacktestExportJobArn"]
    assert job.endswith(f":predictor-backtest-export-job/{group['name']}_ets_bt/bt")
    described = wait_status(
        lambda: forecast.describe_predictor_backtest_export_job(PredictorBacktestExportJobArn=job)
    )
    assert described["Status"] == "ACTIVE" and described["PredictorArn"] == predictor, described
    listed = forecast.list_predictor_backtest_export_jobs(
        Filters=[{"Key": "PredictorArn", "Condition": "IS", "Value": predictor}]
    )["PredictorBacktestExportJobs"]
    assert [j["PredictorBacktestExportJobArn"] for j in listed] == [job]

    s3 = server.client("s3")

    def rows(folder: str) -> list[dict[str, str]]:
        [key] = [
            o["Key"]
            for o in s3.list_objects_v2(Bucket=group["bucket"], Prefix=f"backtests/{folder}/")["Contents"]
        ]
        assert key.split("/")[-1].startswith("bt_") and key.endswith("_part0.csv")
        body = s3.get_object(Bucket=group["bucket"], Key=key)["Body"].read().decode()
        return list(csv.DictReader(io.StringIO(body)))

    values = rows("forecasted-values")
    assert list(values[0]) == [
        "item_id", "timestamp", "target_value", "backtestwindow_start_time", "backtestwindow_end_time",
        "p10", "p50", "p90",
    ]  # fmt: skip
    assert len(values) == 3 * 2 * 7
    assert len({r["backtestwindow_start_time"] for r in values}) == 2
    for r in values:  # each item's weekly pattern, held out and forecast
        day = (date.fromisoformat(r["timestamp"][:10]) - START).days
        assert abs(float(r["target_value"]) - PATTERNS[r["item_id"]][day % 7]) < 1.5, r
        assert abs(float(r["p50"]) - float(r["target_value"])) < 2.5, r
        assert float(r["p10"]) <= float(r["p50"]) <= float(r["p90"]), r
    accuracy = rows("accuracy-metrics-values")
    assert len(accuracy) == 3 * 2 and {r["backtest_window"] for r in accuracy} == {"Computed"}
    assert {"wQL[0.1]", "wQL[0.5]", "wQL[0.9]", "WAPE", "RMSE", "MASE", "MAPE"} <= set(accuracy[0])
    assert all(float(r["WAPE"]) < 0.1 for r in accuracy), accuracy

    forecast.delete_predictor_backtest_export_job(PredictorBacktestExportJobArn=job)
    refused(
        forecast.describe_predictor_backtest_export_job,
        "ResourceNotFoundException",
        PredictorBacktestExportJobArn=job,
    )


def test_careless_input_is_refused_and_nothing_is_half_created(
    server: RunningServer, forecast: Any, group: dict[str, str]
) -> None:
    refused(
        forecast.create_dataset,
        "InvalidInputException",
        DatasetName="no_target",
        Domain="CUSTOM",
        DatasetType="TARGET_TIME_SERIES",
        DataFrequency="D",
        Schema={"Attributes": SCHEMA["Attributes"][::2]},
    )
    refused(
        forecast.create_dataset,
        "InvalidInputException",
        DatasetName="bad_freq",
        Domain="CUSTOM",
        DatasetType="TARGET_TIME_SERIES",
        DataFrequency="2D",
        Schema=SCHEMA,
    )
    names = [d["DatasetName"] for d in forecast.list_datasets()["Datasets"]]
    assert "no_target" not in names and "bad_freq" not in names
    refused(
        forecast.create_dataset,
        "ResourceAlreadyExistsException",
        DatasetName=group["name"],
        Domain="CUSTOM",
        DatasetType="TARGET_TIME_SERIES",
        DataFrequency="D",
        Schema=SCHEMA,
    )
    missing = group["dataset"] + "_nope"
    refused(forecast.describe_dataset, "ResourceNotFoundException", 400, DatasetArn=missing)
    unserved = refused(
        forecast.create_predictor,
        "InvalidInputException",
        PredictorName="deep",
        AlgorithmArn="arn:aws:forecast:::algorithm/CNN-QR",
        ForecastHorizon=7,
        InputDataConfig={"DatasetGroupArn": group["group"]},
        FeaturizationConfig={"ForecastFrequency": "D"},
    )
    assert "CNN-QR" in unserved["Message"]
    refused(
        forecast.create_auto_predictor,
        "InvalidInputException",
        PredictorName="finer",
        ForecastHorizon=7,
        ForecastFrequency="H",
        DataConfig={"DatasetGroupArn": group["group"]},
    )
    refused(
        forecast.create_auto_predictor,
        "InvalidInputException",
        PredictorName="types",
        ForecastHorizon=7,
        ForecastFrequency="D",
        ForecastTypes=["0.1", "0.00"],
        DataConfig={"DatasetGroupArn": group["group"]},
    )
    assert not [
        p for p in forecast.list_predictors()["Predictors"] if p["PredictorName"] in ("deep", "finer")
    ]
    refused(
        forecast.create_what_if_analysis, "InvalidInputException", WhatIfAnalysisName="w", ForecastArn=missing
    )
    refused(forecast.list_datasets, "InvalidNextTokenException", NextToken="garbage")

    # rows that do not fit the schema fail the import job with a message naming the line
    s3 = server.client("s3")
    s3.put_object(
        Bucket=group["bucket"], Key="bad/rows.csv", Body=b"2024-01-01,3.0,shoes\n2024-01-02,lots,shoes\n"
    )
    job = forecast.create_dataset_import_job(
        DatasetImportJobName="bad",
        DatasetArn=group["dataset"],
        DataSource={"S3Config": {"Path": f"s3://{group['bucket']}/bad/rows.csv", "RoleArn": ROLE}},
        ImportMode="INCREMENTAL",
    )["DatasetImportJobArn"]
    failed = wait_status(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job))
    assert failed["Status"] == "CREATE_FAILED" and "Line 2" in failed["Message"], failed
    refused(
        forecast.create_dataset_import_job,
        "InvalidInputException",
        DatasetImportJobName="nobucket",
        DatasetArn=group["dataset"],
        DataSource={"S3Config": {"Path": "s3://no-such-bucket-here/x.csv", "RoleArn": ROLE}},
    )


def test_tags_round_trip(forecast: Any, group: dict[str, str]) -> None:
    forecast.tag_resource(ResourceArn=group["group"], Tags=[{"Key": "team", "Value": "supply"}])
    assert forecast.list_tags_for_resource(ResourceArn=group["group"])["Tags"] == [
        {"Key": "team", "Value": "supply"}
    ]
    forecast.untag_resource(ResourceArn=group["group"], TagKeys=["team"])
    assert forecast.list_tags_for_resource(ResourceArn=group["group"])["Tags"] == []


def test_a_related_time_series_is_refused_rather_than_ignored(forecast: Any) -> None:
    """Outcrop's predictors train on the target series only: a group holding related series gets a clear
    refusal, not a predictor that silently leaves them out."""
    name = unique("related").replace("-", "_")
    target = forecast.create_dataset(
        DatasetName=name, Domain="CUSTOM", DatasetType="TARGET_TIME_SERIES", DataFrequency="D", Schema=SCHEMA
    )["DatasetArn"]
    related_schema = {
        "Attributes": [
            {"AttributeName": "timestamp", "AttributeType": "timestamp"},
            {"AttributeName": "item_id", "AttributeType": "string"},
            {"AttributeName": "price", "AttributeType": "float"},
        ]
    }
    related = forecast.create_dataset(
        DatasetName=name + "_price",
        Domain="CUSTOM",
        DatasetType="RELATED_TIME_SERIES",
        DataFrequency="D",
        Schema=related_schema,
    )["DatasetArn"]
    group_arn = forecast.create_dataset_group(
        DatasetGroupName=name, Domain="CUSTOM", DatasetArns=[target, related]
    )["DatasetGroupArn"]
    refusal = refused(
        forecast.create_auto_predictor,
        "InvalidInputException",
        PredictorName=name,
        ForecastHorizon=7,
        ForecastFrequency="D",
        DataConfig={"DatasetGroupArn": group_arn},
    )
    assert "RELATED_TIME_SERIES" in refusal["Message"]
    assert name not in [p["PredictorName"] for p in forecast.list_predictors()["Predictors"]]


def test_geolocation_format_and_automl_strategy_are_checked_not_ignored(
    forecast: Any, group: dict[str, str]
) -> None:
    source = {"S3Config": {"Path": f"s3://{group['bucket']}/sales/", "RoleArn": ROLE}}
    no_attribute = refused(
        forecast.create_dataset_import_job,
        "InvalidInputException",
        DatasetImportJobName="geo",
        DatasetArn=group["dataset"],
        DataSource=source,
        GeolocationFormat="LAT_LONG",
    )
    assert "geolocation attribute" in no_attribute["Message"]
    latency = refused(
        forecast.create_predictor,
        "InvalidInputException",
        PredictorName=f"{group['name']}_fast",
        PerformAutoML=True,
        AutoMLOverrideStrategy="LatencyOptimized",
        ForecastHorizon=7,
        InputDataConfig={"DatasetGroupArn": group["group"]},
        FeaturizationConfig={"ForecastFrequency": "D"},
    )
    assert "LatencyOptimized" in latency["Message"]
    names = [p["PredictorName"] for p in forecast.list_predictors()["Predictors"]]
    assert f"{group['name']}_fast" not in names
