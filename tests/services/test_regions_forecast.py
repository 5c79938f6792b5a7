"""Forecast's resources live in the account and region that made them: datasets, dataset groups, import
jobs, predictors, backtest exports, forecasts and export jobs are not described, listed, tagged, deleted or
used from another region (their ARNs say where), their names are free again there, and QueryForecast answers
only in the forecast's region. The background work runs the eu-west-1 resources and writes their exports."""

from __future__ import annotations

from typing import Any

from tests.server import RunningServer
from tests.services.bad_inputs import refused, unique
from tests.services.regions import AWAY, HOME, arn_region, regional
from tests.services.test_forecast import ROLE, SCHEMA, seasonal_csv, wait_status


def _flow(home: Any, bucket: str, name: str) -> dict[str, str]:
    """A daily dataset and its group with the seasonal data imported, an ETS predictor (fast: three short
    series), its forecast and an export of it, all ACTIVE."""
    arns: dict[str, str] = {}
    arns["dataset"] = home.create_dataset(
        DatasetName=name, Domain="CUSTOM", DatasetType="TARGET_TIME_SERIES", DataFrequency="D", Schema=SCHEMA
    )["DatasetArn"]
    arns["group"] = home.create_dataset_group(
        DatasetGroupName=name,
        Domain="CUSTOM",
        DatasetArns=[arns["dataset"]],
        Tags=[{"Key": "k", "Value": "v"}],
    )["DatasetGroupArn"]
    arns["import"] = home.create_dataset_import_job(
        DatasetImportJobName="first",
        DatasetArn=arns["dataset"],
        DataSource={"S3Config": {"Path": f"s3://{bucket}/sales/demand.csv", "RoleArn": ROLE}},
        TimestampFormat="yyyy-MM-dd",
    )["DatasetImportJobArn"]
    job = wait_status(lambda: home.describe_dataset_import_job(DatasetImportJobArn=arns["import"]))
    assert job["Status"] == "ACTIVE", job
    arns["predictor"] = home.create_predictor(
        PredictorName=name,
        AlgorithmArn="arn:aws:forecast:::algorithm/ETS",
        ForecastHorizon=7,
        InputDataConfig={"DatasetGroupArn": arns["group"]},
        FeaturizationConfig={"ForecastFrequency": "D"},
    )["PredictorArn"]
    predictor = wait_status(lambda: home.describe_predictor(PredictorArn=arns["predictor"]))
    assert predictor["Status"] == "ACTIVE", predictor
    arns["backtests"] = home.create_predictor_backtest_export_job(
        PredictorBacktestExportJobName="bt",
        PredictorArn=arns["predictor"],
        Destination={"S3Config": {"Path": f"s3://{bucket}/backtests", "RoleArn": ROLE}},
    )["PredictorBacktestExportJobArn"]
    backtests = wait_status(
        lambda: home.describe_predictor_backtest_export_job(PredictorBacktestExportJobArn=arns["backtests"])
    )
    assert backtests["Status"] == "ACTIVE", backtests
    arns["forecast"] = home.create_forecast(ForecastName=name, PredictorArn=arns["predictor"])["ForecastArn"]
    assert wait_status(lambda: home.describe_forecast(ForecastArn=arns["forecast"]))["Status"] == "ACTIVE"
    arns["export"] = home.create_forecast_export_job(
        ForecastExportJobName="out",
        ForecastArn=arns["forecast"],
        Destination={"S3Config": {"Path": f"s3://{bucket}/exports", "RoleArn": ROLE}},
    )["ForecastExportJobArn"]
    export = wait_status(lambda: home.describe_forecast_export_job(ForecastExportJobArn=arns["export"]))
    assert export["Status"] == "ACTIVE", export
    return arns


def test_forecast_resources_made_in_eu_west_1_are_invisible_from_us_east_1(server: RunningServer) -> None:
    home, away = regional(server, "forecast", HOME), regional(server, "forecast", AWAY)
    bucket, name = unique("regional-forecast"), unique("regional").replace("-", "_")
    s3 = regional(server, "s3", HOME)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": HOME})
    s3.put_object(Bucket=bucket, Key="sales/demand.csv", Body=seasonal_csv().encode())
    arns = _flow(home, bucket, name)
    assert {arn_region(arn) for arn in arns.values()} == {HOME}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="exports/")["Contents"]]
    assert len(s3.list_objects_v2(Bucket=bucket, Prefix="backtests/")["Contents"]) == 2

    describes = {
        "dataset": (away.describe_dataset, "DatasetArn"),
        "group": (away.describe_dataset_group, "DatasetGroupArn"),
        "import": (away.describe_dataset_import_job, "DatasetImportJobArn"),
        "predictor": (away.describe_predictor, "PredictorArn"),
        "forecast": (away.describe_forecast, "ForecastArn"),
        "export": (away.describe_forecast_export_job, "ForecastExportJobArn"),
        "backtests": (away.describe_predictor_backtest_export_job, "PredictorBacktestExportJobArn"),
    }
    for key, (describe, member) in describes.items():
        refused(describe, "ResourceNotFoundException", **{member: arns[key]})
    refused(away.describe_auto_predictor, "ResourceNotFoundException", PredictorArn=arns["predictor"])
    refused(away.get_accuracy_metrics, "ResourceNotFoundException", PredictorArn=arns["predictor"])
    refused(away.list_tags_for_resource, "ResourceNotFoundException", ResourceArn=arns["group"])
    refused(
        away.tag_resource,
        "ResourceNotFoundException",
        ResourceArn=arns["group"],
        Tags=[{"Key": "a", "Value": "b"}],
    )
    assert home.list_tags_for_resource(ResourceArn=arns["group"])["Tags"] == [{"Key": "k", "Value": "v"}]
    refused(away.delete_forecast_export_job, "ResourceNotFoundException", ForecastExportJobArn=arns["export"])
    refused(away.delete_dataset, "ResourceNotFoundException", DatasetArn=arns["dataset"])
    # a us-east-1 forecast cannot be made from eu-west-1's predictor, nor a group of its dataset
    refused(
        away.create_forecast, "ResourceNotFoundException", ForecastName=name, PredictorArn=arns["predictor"]
    )
    refused(
        away.create_dataset_group,
        "ResourceNotFoundException",
        DatasetGroupName=name,
        Domain="CUSTOM",
        DatasetArns=[arns["dataset"]],
    )

    listed = {
        "dataset": [d["DatasetArn"] for d in away.list_datasets()["Datasets"]],
        "group": [g["DatasetGroupArn"] for g in away.list_dataset_groups()["DatasetGroups"]],
        "import": [j["DatasetImportJobArn"] for j in away.list_dataset_import_jobs()["DatasetImportJobs"]],
        "predictor": [p["PredictorArn"] for p in away.list_predictors()["Predictors"]],
        "forecast": [f["ForecastArn"] for f in away.list_forecasts()["Forecasts"]],
        "export": [e["ForecastExportJobArn"] for e in away.list_forecast_export_jobs()["ForecastExportJobs"]],
        "backtests": [
            b["PredictorBacktestExportJobArn"]
            for b in away.list_predictor_backtest_export_jobs()["PredictorBacktestExportJobs"]
        ],
    }
    for key, seen in listed.items():
        assert arns[key] not in seen, key
    assert arns["forecast"] in [f["ForecastArn"] for f in home.list_forecasts()["Forecasts"]]

    home_query, away_query = regional(server, "forecastquery", HOME), regional(server, "forecastquery", AWAY)
    answer = home_query.query_forecast(ForecastArn=arns["forecast"], Filters={"item_id": "shoes"})
    assert len(answer["Forecast"]["Predictions"]["p50"]) == 7
    refused(
        away_query.query_forecast,
        "ResourceNotFoundException",
        ForecastArn=arns["forecast"],
        Filters={"item_id": "shoes"},
    )

    # the names are free in us-east-1: the same dataset and group names make us-east-1 resources
    dataset = away.create_dataset(
        DatasetName=name, Domain="CUSTOM", DatasetType="TARGET_TIME_SERIES", DataFrequency="D", Schema=SCHEMA
    )["DatasetArn"]
    group = away.create_dataset_group(DatasetGroupName=name, Domain="CUSTOM", DatasetArns=[dataset])[
        "DatasetGroupArn"
    ]
    assert arn_region(dataset) == arn_region(group) == AWAY
    assert dataset == arns["dataset"].replace(HOME, AWAY)
    assert [d["DatasetArn"] for d in away.list_datasets()["Datasets"] if d["DatasetName"] == name] == [
        dataset
    ]
    assert [d["DatasetArn"] for d in home.list_datasets()["Datasets"] if d["DatasetName"] == name] == [
        arns["dataset"]
    ]
    away.delete_dataset_group(DatasetGroupArn=group)
    away.delete_dataset(DatasetArn=dataset)
    assert home.describe_dataset(DatasetArn=arns["dataset"])["DatasetName"] == name
