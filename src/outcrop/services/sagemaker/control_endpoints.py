"""Models, endpoint configurations and endpoints: what CreateEndpoint hands to the hosting seam.

Creating, updating and deleting an endpoint answer at once and finish in a background thread
(`control_endpoint_work`), as SageMaker's do: the endpoint shows Creating/Updating/Deleting until
`EndpointHosting` says its workers serve (InService) or cannot start (Failed, with the hosting error as
FailureReason). All three kinds are named per account and region, as on AWS.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from outcrop.protocol.errors import ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.sagemaker.control_common import already_exists, check_name, listed, not_found
from outcrop.services.sagemaker.control_endpoint_work import (
    CONFIG,
    ENDPOINT,
    MODEL,
    WORKING,
    EndpointWork,
    in_service,
)
from outcrop.services.sagemaker.control_unserved import (
    ENDPOINT_CONFIG,
    MODEL_MEMBERS,
    refuse_unserved,
    retained,
)
from outcrop.services.sagemaker.store import AlreadyExists, Record

log = logging.getLogger("outcrop.sagemaker.endpoints")

_BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")


class EndpointOperations(EndpointWork):
    # -- models ----------------------------------------------------------------------------------------------

    def create_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ModelName"]
        check_name("ModelName", name)
        refuse_unserved(params, MODEL_MEMBERS)
        arn = self.arn(ctx, f"model/{name.lower()}")
        containers = params.get("Containers") or []
        primary = params.get("PrimaryContainer")
        if primary is None and not containers:
            raise ValidationException("Either PrimaryContainer or Containers must be specified.")
        if primary is not None and containers:
            raise ValidationException("Specify either PrimaryContainer or Containers, not both.")
        from outcrop.iam.execution import RoleNotAssumable

        try:  # under auth = "iam" the model's workers run as this role: SageMaker must be able to assume it
            self.training.check_role(params.get("ExecutionRoleArn") or "")
        except RoleNotAssumable as exc:
            raise ValidationException(str(exc)) from exc
        for container in [primary] if primary else containers:
            if not container.get("Image") and not container.get("ModelPackageName"):
                raise ValidationException("Each container must specify Image or ModelPackageName.")
            if container.get("ModelPackageName"):
                self._package_container(container["ModelPackageName"], self.where(ctx))
        body: dict[str, Any] = {
            k: params[k]
            for k in (
                "PrimaryContainer",
                "Containers",
                "InferenceExecutionConfig",
                "ExecutionRoleArn",
                "VpcConfig",
                "EnableNetworkIsolation",
            )
            if k in params
        }
        body["ModelName"], body["ModelArn"] = name, arn
        body.setdefault("EnableNetworkIsolation", False)
        try:
            self.store.insert(
                MODEL, name, arn, "Created", body, params.get("Tags", []), where=self.where(ctx)
            )
        except AlreadyExists as exc:
            raise already_exists("model", arn) from exc
        return {"ModelArn": arn}

    def _model(self, ctx: RequestContext, name: str) -> Record:
        record = self.store.get(MODEL, name, where=self.where(ctx))
        if record is None:
            raise not_found("model", self.arn(ctx, f"model/{name.lower()}"))
        return record

    def describe_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._model(ctx, params["ModelName"])
        return {**record.body, "CreationTime": record.created}

    def delete_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._model(ctx, params["ModelName"])
        self.store.delete(MODEL, record.name, where=record.where)
        return {}

    def list_models(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        models, token = listed(
            self.store.records(MODEL, where=self.where(ctx)),
            params,
            lambda r: {"ModelName": r.name, "ModelArn": r.arn, "CreationTime": r.created},
        )
        return {"Models": models, "NextToken": token}

    # -- endpoint configurations -----------------------------------------------------------------------------

    def create_endpoint_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointConfigName"]
        check_name("EndpointConfigName", name)
        refuse_unserved(params, ENDPOINT_CONFIG)
        arn = self.arn(ctx, f"endpoint-config/{name.lower()}")
        variants = params["ProductionVariants"]
        if not variants:
            raise ValidationException("ProductionVariants must contain at least one variant.")
        names = [v["VariantName"] for v in variants]
        if len(set(names)) != len(names):
            raise ValidationException("Variant names must be unique within an endpoint configuration.")
        for variant in variants:
            if not variant.get("ModelName"):
                raise ValidationException(f"Variant {variant['VariantName']} must name a ModelName.")
            self._model(ctx, variant["ModelName"])
            if variant.get("InitialVariantWeight", 1.0) < 0:
                raise ValidationException("InitialVariantWeight must be greater than or equal to 0.")
        if sum(v.get("InitialVariantWeight", 1.0) for v in variants) <= 0:
            raise ValidationException(
                "At least one variant must have an InitialVariantWeight greater than 0."
            )
        body = {k: v for k, v in params.items() if k not in ("Tags",)}
        body["ProductionVariants"] = [{"InitialVariantWeight": 1.0, **v} for v in variants]
        body["EndpointConfigArn"] = arn
        try:
            self.store.insert(
                CONFIG, name, arn, "Created", body, params.get("Tags", []), where=self.where(ctx)
            )
        except AlreadyExists as exc:
            raise already_exists("endpoint configuration", arn) from exc
        return {"EndpointConfigArn": arn}

    def _config(self, ctx: RequestContext, name: str) -> Record:
        record = self.store.get(CONFIG, name, where=self.where(ctx))
        if record is None:
            raise not_found("endpoint configuration", self.arn(ctx, f"endpoint-config/{name.lower()}"))
        return record

    def describe_endpoint_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._config(ctx, params["EndpointConfigName"])
        return {**record.body, "CreationTime": record.created}

    def delete_endpoint_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._config(ctx, params["EndpointConfigName"])
        self.store.delete(CONFIG, record.name, where=record.where)
        return {}

    def list_endpoint_configs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        configs, token = listed(
            self.store.records(CONFIG, where=self.where(ctx)),
            params,
            lambda r: {"EndpointConfigName": r.name, "EndpointConfigArn": r.arn, "CreationTime": r.created},
        )
        return {"EndpointConfigs": configs, "NextToken": token}

    # -- endpoints -------------------------------------------------------------------------------------------

    def _variant_summaries(
        self,
        config: Record,
        weights: dict[str, float],
        desired: dict[str, float],
        status: str,
        endpoint: Record,
    ) -> list[dict[str, Any]]:
        summaries = []
        counts = self.hosting.instance_counts(
            endpoint.name, where=endpoint.where
        )  # what auto scaling or capacities last set
        for variant in config.body["ProductionVariants"]:
            model = self.store.get(MODEL, variant["ModelName"], where=config.where)
            container = (model.body.get("PrimaryContainer") or {}) if model else {}
            weight = weights.get(variant["VariantName"], float(variant.get("InitialVariantWeight", 1.0)))
            count = counts.get(variant["VariantName"], int(variant.get("InitialInstanceCount", 1)))
            summary: dict[str, Any] = {
                "VariantName": variant["VariantName"],
                "DeployedImages": [
                    {
                        "SpecifiedImage": container["Image"],
                        "ResolvedImage": container["Image"],
                        "ResolutionTime": config.created,
                    }
                ]
                if container.get("Image")
                else [],
                "CurrentWeight": weight,
                "DesiredWeight": desired.get(variant["VariantName"], weight),
                "CurrentInstanceCount": count,
                "DesiredInstanceCount": count,
            }
            if status in ("Creating", "Updating"):
                summary["VariantStatus"] = [{"Status": status, "StartTime": time.time()}]
            summaries.append(summary)
        return summaries

    def create_endpoint(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointName"]
        check_name("EndpointName", name)
        arn = self.arn(ctx, f"endpoint/{name.lower()}")
        config = self._config(ctx, params["EndpointConfigName"])
        specs = self._variant_specs(config, ctx.base_url)
        body = {
            "EndpointName": name,
            "EndpointArn": arn,
            "EndpointConfigName": config.name,
            "_Weights": {},
            "_Endpoint": ctx.base_url,
        }
        if params.get("DeploymentConfig"):
            body["LastDeploymentConfig"] = params["DeploymentConfig"]
        try:
            self.store.insert(
                ENDPOINT, name, arn, "Creating", body, params.get("Tags", []), where=self.where(ctx)
            )
        except AlreadyExists as exc:
            raise already_exists("endpoint", arn) from exc
        where = self.where(ctx)
        self._in_background(name, where, lambda: self._deploy(name, config.name, specs, None, where))
        return {"EndpointArn": arn}

    def _endpoint(self, ctx: RequestContext, name: str) -> Record:
        record = self.store.get(ENDPOINT, name, where=self.where(ctx))
        if record is None:
            raise not_found("endpoint", self.arn(ctx, f"endpoint/{name.lower()}"))
        return record

    def describe_endpoint(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._endpoint(ctx, params["EndpointName"])
        config = self.store.get(CONFIG, record.body["EndpointConfigName"], where=record.where)
        described = {k: v for k, v in record.body.items() if not k.startswith("_")}
        described.update(
            EndpointStatus=record.status, CreationTime=record.created, LastModifiedTime=record.modified
        )
        if config is not None and record.status != "Failed":
            described["ProductionVariants"] = self._variant_summaries(
                config,
                record.body["_Weights"],
                record.body.get("_DesiredWeights", {}),
                record.status,
                record,
            )
        return described

    def list_endpoints(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        def summary(r: Record) -> dict[str, Any]:
            return {
                "EndpointName": r.name,
                "EndpointArn": r.arn,
                "CreationTime": r.created,
                "LastModifiedTime": r.modified,
                "EndpointStatus": r.status,
            }

        endpoints, token = listed(
            self.store.records(ENDPOINT, where=self.where(ctx)), params, summary, status_key="EndpointStatus"
        )
        return {"Endpoints": endpoints, "NextToken": token}

    def update_endpoint(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._endpoint(ctx, params["EndpointName"])
        if record.status in _BUSY:
            raise ValidationException(f'Cannot update in-progress endpoint "{record.arn}".')
        config = self._config(ctx, params["EndpointConfigName"])
        specs = self._variant_specs(config, ctx.base_url)
        previous = record.body["EndpointConfigName"] if record.status == "InService" else None
        weights, counts = self._running_variants(record) if previous else ({}, {})
        weights, counts = retained(params, weights, counts)
        specs = [
            replace(
                spec,
                initial_weight=weights.get(spec.variant_name, spec.initial_weight),
                instance_count=counts.get(spec.variant_name, spec.instance_count),
            )
            for spec in specs
        ]
        kept = {s.variant_name: s.initial_weight for s in specs if s.variant_name in weights}

        def updating(r: Record) -> bool:
            if r.status in _BUSY:
                return False  # another update or a delete began since it was read
            r.status = "Updating"
            r.body.pop("FailureReason", None)
            r.body["_PendingConfig"] = config.name
            r.body["_RetainedWeights"] = kept
            if not params.get("RetainDeploymentConfig"):  # else the last one stays, as asked
                r.body.pop("LastDeploymentConfig", None)
                if params.get("DeploymentConfig"):
                    r.body["LastDeploymentConfig"] = params["DeploymentConfig"]
            return True

        name, where = record.name, record.where
        if self.store.update(ENDPOINT, name, updating, where=where) is None:
            raise ValidationException(f'Cannot update in-progress endpoint "{record.arn}".')
        self._in_background(name, where, lambda: self._deploy(name, config.name, specs, previous, where))
        return {"EndpointArn": record.arn}

    def _running_variants(self, record: Record) -> tuple[dict[str, float], dict[str, int]]:
        """The running endpoint's variant weights and instance counts, as DescribeEndpoint reports them."""
        config = self.store.get(CONFIG, record.body["EndpointConfigName"], where=record.where)
        variants = config.body["ProductionVariants"] if config else []
        weights = {v["VariantName"]: float(v.get("InitialVariantWeight", 1.0)) for v in variants}
        weights.update(record.body["_Weights"])
        counts = {v["VariantName"]: int(v.get("InitialInstanceCount", 1)) for v in variants}
        counts.update(self.hosting.instance_counts(record.name, where=record.where))
        return weights, counts

    def update_endpoint_weights_and_capacities(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._endpoint(ctx, params["EndpointName"])
        if record.status != "InService":
            raise ValidationException(
                f'Cannot update in-progress endpoint "{record.arn}".'
                if record.status in _BUSY
                else f'Endpoint "{record.arn}" is not in service (status {record.status}).'
            )
        config = self._config(ctx, record.body["EndpointConfigName"])
        known = {
            v["VariantName"]: float(v.get("InitialVariantWeight", 1.0))
            for v in config.body["ProductionVariants"]
        }
        weights = {**known, **record.body["_Weights"]}
        missing = [
            d["VariantName"] for d in params["DesiredWeightsAndCapacities"] if d["VariantName"] not in known
        ]
        if missing:
            raise ValidationException(
                f'The variant(s) "[{", ".join(missing)}]" is/are not present in the endpoint "{record.arn}".'
            )
        for desired in params["DesiredWeightsAndCapacities"]:
            if "DesiredWeight" in desired:
                if desired["DesiredWeight"] < 0:
                    raise ValidationException("DesiredWeight must be greater than or equal to 0.")
                weights[desired["VariantName"]] = float(desired["DesiredWeight"])
            if desired.get("DesiredInstanceCount", 1) < 1:
                raise ValidationException("DesiredInstanceCount must be greater than or equal to 1.")
        capacities = {
            d["VariantName"]: int(d["DesiredInstanceCount"])
            for d in params["DesiredWeightsAndCapacities"]
            if "DesiredInstanceCount" in d
        }
        if sum(weights.values()) <= 0:
            raise ValidationException("At least one variant must have a weight greater than 0.")

        def updating(r: Record) -> bool:
            if r.status != "InService":
                return False  # an update or a delete began since it was read
            r.status = "Updating"
            r.body["_DesiredWeights"] = weights
            return True

        name, where = record.name, record.where
        if self.store.update(ENDPOINT, name, updating, where=where) is None:
            raise ValidationException(f'Cannot update in-progress endpoint "{record.arn}".')

        def apply() -> None:
            try:
                self.hosting.update_weights(name, weights, where=where)
                for variant, count in capacities.items():
                    self.hosting.scale(name, variant, count, where=where)
            except Exception as exc:  # a failed weight change leaves the endpoint serving the old split
                log.warning("weight update of %s failed: %s", name, exc)
                message = f"Weight update failed: {exc}"
                self.store.update(ENDPOINT, name, lambda r: in_service(r, message), where=where)
                return

            def done(r: Record) -> bool:
                if r.status not in WORKING:
                    return False  # a delete began meanwhile
                r.body["_Weights"] = weights
                return in_service(r, None)

            self.store.update(ENDPOINT, name, done, where=where)

        self._in_background(name, where, apply)
        return {"EndpointArn": record.arn}

    def delete_endpoint(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._endpoint(ctx, params["EndpointName"])
        if record.status == "Deleting":
            raise ValidationException(f'Cannot delete in-progress endpoint "{record.arn}".')
        name, where = record.name, record.where

        def deleting(r: Record) -> bool:
            if r.status == "Deleting":
                return False  # deleted by another call since it was read
            r.status = "Deleting"
            return True

        if self.store.update(ENDPOINT, name, deleting, where=where) is None:
            raise ValidationException(f'Cannot delete in-progress endpoint "{record.arn}".')
        self._in_background(name, where, lambda: self._undeploy(name, where))
        return {}
