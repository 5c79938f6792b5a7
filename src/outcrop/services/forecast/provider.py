"""Amazon Forecast: datasets, dataset groups, imports from S3, predictors trained with statsforecast,
forecasts and exports to S3. The long work runs in `work.ForecastWork`; forecastquery reads the same store."""

from __future__ import annotations

from typing import Any, ClassVar

from outcrop.services.base import RequestContext, Service
from outcrop.services.forecast.datasets import (
    DatasetOperations,
    InvalidInputException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from outcrop.services.forecast.kinds import KINDS, view
from outcrop.services.forecast.predictors import accuracy, auto_request, legacy_request
from outcrop.services.forecast.store import ACTIVE, PENDING, Resource, where
from outcrop.services.forecast.work import split_s3
from outcrop.storage.objects import StoreError


class Forecast(DatasetOperations, Service):
    service_name: ClassVar[str] = "forecast"

    # -- predictors -------------------------------------------------------------------------------------

    def _group_and_target(self, ctx: RequestContext, arn: str) -> tuple[Resource, Resource | None]:
        group = self._get(ctx, arn, "dataset-group")
        datasets = [self.store.get(a) for a in group.body["DatasetArns"]]
        if any(d and d.body["DatasetType"] == "RELATED_TIME_SERIES" for d in datasets):
            raise InvalidInputException(  # training would ignore them, and a predictor must not pretend
                "The dataset group holds a RELATED_TIME_SERIES dataset, which this server's predictors do "
                "not use (they train on the target time series only); remove it from the dataset group "
                "(UpdateDatasetGroup) to train on the target series"
            )
        return group, next((d for d in datasets if d and d.body["DatasetType"] == "TARGET_TIME_SERIES"), None)

    def create_auto_predictor(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        reference = params.get("ReferencePredictorArn")
        if reference:  # retraining: the reference's configuration on the dataset group's current data
            old = self._get(ctx, reference, "predictor")
            if not old.body.get("IsAutoPredictor"):
                raise InvalidInputException(
                    "Only an AutoPredictor can be retrained with ReferencePredictorArn"
                )
            body = {**old.body, "ReferencePredictorArn": reference, "Tags": params.get("Tags") or []}
        else:
            if not params.get("DataConfig"):
                raise InvalidInputException("DataConfig is required unless ReferencePredictorArn is given")
            group, target = self._group_and_target(ctx, params["DataConfig"]["DatasetGroupArn"])
            body = auto_request(params, group, target, InvalidInputException)
        name = params["PredictorName"]
        return {"PredictorArn": self._create(ctx, "predictor", name, name, body, PENDING)}

    def create_predictor(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group, target = self._group_and_target(ctx, params["InputDataConfig"]["DatasetGroupArn"])
        body = legacy_request(params, group, target, InvalidInputException)
        name = params["PredictorName"]
        return {"PredictorArn": self._create(ctx, "predictor", name, name, body, PENDING)}

    def _predictor(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The predictor's body, and what DescribePredictor and DescribeAutoPredictor both show of it."""
        r = self._get(ctx, params["PredictorArn"], "predictor")
        shown = view(r, ("ForecastHorizon", "ForecastTypes", "OptimizationMetric"))
        return r.body, {**shown, "DatasetImportJobArns": r.body.get("DatasetImportJobArns", [])}

    def describe_auto_predictor(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        b, out = self._predictor(ctx, params)
        out.update(
            ForecastFrequency=b["ForecastFrequency"],
            ForecastDimensions=b["ForecastDimensions"],
            DataConfig=b.get("DataConfig") or {"DatasetGroupArn": b["DatasetGroupArn"]},
        )
        if b.get("ReferencePredictorArn"):
            state = "Active" if self.store.get(b["ReferencePredictorArn"]) else "Deleted"
            out["ReferencePredictorSummary"] = {"Arn": b["ReferencePredictorArn"], "State": state}
        return out

    def describe_predictor(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        b, out = self._predictor(ctx, params)
        out.update(
            IsAutoPredictor=bool(b.get("IsAutoPredictor")),
            InputDataConfig={"DatasetGroupArn": b["DatasetGroupArn"]},
            FeaturizationConfig={
                "ForecastFrequency": b["ForecastFrequency"],
                "ForecastDimensions": b["ForecastDimensions"],
            },
        )
        if not b.get("IsAutoPredictor"):
            out.update(
                PerformAutoML=b["PerformAutoML"],
                EvaluationParameters={
                    "NumberOfBacktestWindows": b["Windows"],
                    "BackTestWindowOffset": b["Offset"] or b["ForecastHorizon"],
                },
            )
            if b.get("AlgorithmArn"):
                out["AlgorithmArn"] = b["AlgorithmArn"]
            else:
                out["AutoMLAlgorithmArns"] = ["arn:aws:forecast:::algorithm/" + c for c in b["Candidates"]]
        return out

    def list_predictors(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._list(ctx, params, "predictor")

    def delete_predictor(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete(ctx, params, "predictor")

    def get_accuracy_metrics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        predictor = self._get(ctx, params["PredictorArn"], "predictor")
        if predictor.status != ACTIVE:
            raise ResourceInUseException(f"The predictor {predictor.arn} is {predictor.status}, not ACTIVE")
        return accuracy(predictor, self.store.get_data(predictor.arn))

    # -- forecasts and exports --------------------------------------------------------------------------

    def create_forecast(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        predictor = self._get(ctx, params["PredictorArn"], "predictor")
        if predictor.status != ACTIVE:
            raise ResourceInUseException(f"The predictor {predictor.arn} is {predictor.status}, not ACTIVE")
        if params.get("TimeSeriesSelector"):
            raise InvalidInputException(
                "TimeSeriesSelector is not supported by this server: a forecast covers every series"
            )
        types = params.get("ForecastTypes") or predictor.body["ForecastTypes"]
        extra = [t for t in types if t not in predictor.body["ForecastTypes"]]
        if extra:
            raise InvalidInputException(
                f"The forecast type {extra[0]} is not one of the predictor's "
                f"({', '.join(predictor.body['ForecastTypes'])})"
            )
        body = {
            "PredictorArn": predictor.arn,
            "DatasetGroupArn": predictor.body["DatasetGroupArn"],
            "ForecastTypes": list(types),
            "CreatedUsingAutoPredictor": bool(predictor.body.get("IsAutoPredictor")),
            "Tags": params.get("Tags") or [],
        }
        name = params["ForecastName"]
        return {"ForecastArn": self._create(ctx, "forecast", name, name, body, PENDING)}

    def describe_forecast(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._describe(ctx, params, "forecast")

    def list_forecasts(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._list(ctx, params, "forecast")

    def delete_forecast(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete(ctx, params, "forecast")

    def _export_job(
        self, ctx: RequestContext, params: dict[str, Any], source: str, kind: str
    ) -> dict[str, Any]:
        """Create{Forecast,PredictorBacktest}ExportJob: the ACTIVE resource `source` names, to be written
        as CSV under an S3 path whose bucket exists."""
        spec = KINDS[kind]
        of = self._get(ctx, params[source], "forecast" if source == "ForecastArn" else "predictor")
        if of.status != ACTIVE:
            raise ResourceInUseException(f"The {KINDS[of.kind].label} {of.arn} is {of.status}, not ACTIVE")
        if (params.get("Format") or "CSV").upper() != "CSV":
            raise InvalidInputException(f"Only the CSV format is supported for {spec.label}s by this server")
        path = params["Destination"]["S3Config"]["Path"]
        try:
            self.objects.get_bucket(split_s3(path)[0])
        except StoreError:
            raise InvalidInputException(f"The S3 bucket of {path} does not exist") from None
        except Exception as exc:
            raise InvalidInputException(str(exc)) from None
        body = {
            source: of.arn,
            "Destination": params["Destination"],
            "Format": "CSV",
            "Tags": params.get("Tags") or [],
        }
        name = params[spec.prefix + "Name"]
        return {spec.arn: self._create(ctx, kind, f"{of.name}/{name}", name, body, PENDING)}

    def create_forecast_export_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._export_job(ctx, params, "ForecastArn", "forecast-export-job")

    def describe_forecast_export_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._describe(ctx, params, "forecast-export-job")

    def list_forecast_export_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._list(ctx, params, "forecast-export-job")

    def delete_forecast_export_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete(ctx, params, "forecast-export-job")

    def create_predictor_backtest_export_job(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._export_job(ctx, params, "PredictorArn", "predictor-backtest-export-job")

    def describe_predictor_backtest_export_job(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._describe(ctx, params, "predictor-backtest-export-job")

    def list_predictor_backtest_export_jobs(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._list(ctx, params, "predictor-backtest-export-job")

    def delete_predictor_backtest_export_job(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._delete(ctx, params, "predictor-backtest-export-job")

    def create_what_if_analysis(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        raise InvalidInputException(
            "What-if analyses are not supported by this server: its predictors forecast from the target"
            " time series alone, and a what-if analysis changes the related time series a predictor uses"
        )

    # -- tags -------------------------------------------------------------------------------------------

    def _tagged(self, ctx: RequestContext, arn: str) -> Resource:
        found = self.store.get(arn, where=where(ctx))
        if found is None:
            raise ResourceNotFoundException(f"No resource with the ARN {arn} exists")
        return found

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        r = self._tagged(ctx, params["ResourceArn"])
        tags = {t["Key"]: t["Value"] for t in r.body.get("Tags", [])} | {
            t["Key"]: t["Value"] for t in params["Tags"]
        }
        if len(tags) > 200:
            raise InvalidInputException("A resource can have at most 200 tags")
        self.store.update(r.arn, message=r.message, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        return {}

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        r = self._tagged(ctx, params["ResourceArn"])
        keep = [t for t in r.body.get("Tags", []) if t["Key"] not in set(params["TagKeys"])]
        self.store.update(r.arn, message=r.message, Tags=keep)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": self._tagged(ctx, params["ResourceArn"]).body.get("Tags", [])}
