"""Models, endpoint configurations and endpoints: what CreateEndpoint hands to the hosting seam.

Creating, updating and deleting an endpoint answer at once and finish in a background thread, as SageMaker's
do: the endpoint shows Creating/Updating/Deleting until `EndpointHosting` says its workers serve (InService)
or cannot start (Failed, with the hosting error as FailureReason).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from outcrop.protocol.errors import ValidationException
from outcrop.services.base import RequestContext
from outcrop.services.sagemaker.control_common import (
    ControlPlane,
    already_exists,
    check_name,
    listed,
    not_found,
)
from outcrop.services.sagemaker.control_registry import PACKAGE
from outcrop.services.sagemaker.hosting import HostingError
from outcrop.services.sagemaker.serving.spec import VariantSpec
from outcrop.services.sagemaker.store import AlreadyExists, Record, Where

log = logging.getLogger("outcrop.sagemaker.endpoints")

MODEL, CONFIG, ENDPOINT = "model", "endpoint-config", "endpoint"
_BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")


class EndpointOperations(ControlPlane):
    _endpoint_locks: dict[str, threading.Lock]

    # -- models ----------------------------------------------------------------------------------------------

    def create_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ModelName"]
        check_name("ModelName", name)
        arn = self.arn(ctx, f"model/{name.lower()}")
        containers = params.get("Containers") or []
        primary = params.get("PrimaryContainer")
        if primary is None and not containers:
            raise ValidationException("Either PrimaryContainer or Containers must be specified.")
        if primary is not None and containers:
            raise ValidationException("Specify either PrimaryContainer or Containers, not both.")
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

    def _variant_specs(self, ctx: RequestContext, config: Record) -> list[VariantSpec]:
        """Resolve each production variant's model (and model package) into what the hosting seam runs."""
        specs = []
        for variant in config.body["ProductionVariants"]:
            model = self._model(ctx, variant["ModelName"])
            container = model.body.get("PrimaryContainer") or model.body.get("Containers", [{}])[0]
            if container.get("ModelPackageName"):
                container = {
                    **self._package_container(container["ModelPackageName"], self.where(ctx)),
                    **container,
                }
            specs.append(
                VariantSpec(
                    variant_name=variant["VariantName"],
                    model_name=model.name,
                    image=container.get("Image", ""),
                    model_data_url=container.get("ModelDataUrl"),
                    environment=dict(container.get("Environment", {})),
                    initial_weight=float(variant.get("InitialVariantWeight", 1.0)),
                    multi_model=container.get("Mode") == "MultiModel",
                    instance_type=variant.get("InstanceType", "ml.m5.large"),
                    instance_count=int(variant.get("InitialInstanceCount", 1)),
                )
            )
        return specs

    def _package_container(self, name_or_arn: str, where: Where) -> dict[str, Any]:
        """The first inference container of a registered model package (of `where`), as a CreateModel
        container."""
        record = self.store.by_arn(name_or_arn, where=where) or self.store.get(
            PACKAGE, name_or_arn, where=where
        )
        if record is None or record.kind != PACKAGE:
            raise ValidationException(f"ModelPackage {name_or_arn} does not exist.")
        containers = record.body.get("InferenceSpecification", {}).get("Containers", [])
        if not containers:
            raise ValidationException(f"ModelPackage {name_or_arn} has no InferenceSpecification containers.")
        first = containers[0]
        return {k: first[k] for k in ("Image", "ModelDataUrl", "Environment") if k in first}

    def _variant_summaries(
        self, config: Record, weights: dict[str, float], desired: dict[str, float], status: str, endpoint: str
    ) -> list[dict[str, Any]]:
        summaries = []
        counts = self.hosting.instance_counts(endpoint)  # what auto scaling or capacities last set
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
        specs = self._variant_specs(ctx, config)
        body = {"EndpointName": name, "EndpointArn": arn, "EndpointConfigName": config.name, "_Weights": {}}
        if params.get("DeploymentConfig"):
            body["LastDeploymentConfig"] = params["DeploymentConfig"]
        try:
            self.store.insert(
                ENDPOINT, name, arn, "Creating", body, params.get("Tags", []), where=self.where(ctx)
            )
        except AlreadyExists as exc:
            raise already_exists("endpoint", arn) from exc
        self._in_background(name, lambda: self._deploy(name, config.name, specs, previous=None))
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
                record.name,
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
        specs = self._variant_specs(ctx, config)
        previous = record.body["EndpointConfigName"] if record.status == "InService" else None

        def updating(r: Record) -> None:
            r.status = "Updating"
            r.body.pop("FailureReason", None)
            r.body["_PendingConfig"] = config.name

        self.store.update(ENDPOINT, record.name, updating)
        self._in_background(
            record.name, lambda: self._deploy(record.name, config.name, specs, previous=previous)
        )
        return {"EndpointArn": record.arn}

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

        def updating(r: Record) -> None:
            r.status = "Updating"
            r.body["_DesiredWeights"] = weights

        self.store.update(ENDPOINT, record.name, updating)

        def apply() -> None:
            try:
                self.hosting.update_weights(record.name, weights)
                for variant, count in capacities.items():
                    self.hosting.scale(record.name, variant, count)
            except Exception as exc:  # a failed weight change leaves the endpoint serving the old split
                log.warning("weight update of %s failed: %s", record.name, exc)
                message = f"Weight update failed: {exc}"
                self.store.update(ENDPOINT, record.name, lambda r: _in_service(r, message))
                return

            def done(r: Record) -> None:
                r.body["_Weights"] = weights
                _in_service(r, None)

            self.store.update(ENDPOINT, record.name, done)

        self._in_background(record.name, apply)
        return {"EndpointArn": record.arn}

    def delete_endpoint(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._endpoint(ctx, params["EndpointName"])
        if record.status == "Deleting":
            raise ValidationException(f'Cannot delete in-progress endpoint "{record.arn}".')
        self.store.update(ENDPOINT, record.name, lambda r: setattr(r, "status", "Deleting"))

        self._in_background(record.name, partial(self._undeploy, record.name))
        return {}

    # -- background work -------------------------------------------------------------------------------------

    def _in_background(self, endpoint: str, work: Callable[[], object]) -> None:
        """Run endpoint work in a thread, one piece at a time per endpoint (a delete waits for its create)."""
        lock = self._endpoint_locks.setdefault(endpoint, threading.Lock())

        def run() -> None:
            with lock:
                work()

        threading.Thread(target=run, name=f"endpoint-{endpoint}", daemon=True).start()

    def _deploy(self, name: str, config_name: str, specs: list[VariantSpec], previous: str | None) -> None:
        config = self.store.get(CONFIG, config_name, where=self.store.where_of(ENDPOINT, name))
        async_inference = config.body.get("AsyncInferenceConfig") if config else None
        try:
            where = config.where if config else None  # the endpoint's region, as its configuration's
            self.hosting.deploy(name, specs, async_inference=async_inference, where=where)
        except Exception as exc:  # HostingError, or anything a broken deployment raised
            reason = str(exc) if isinstance(exc, HostingError) else f"{type(exc).__name__}: {exc}"
            log.warning("deploying endpoint %s failed: %s", name, reason)
            if previous is not None:
                self._roll_back(name, previous, reason)
                return

            def failed(r: Record) -> None:
                r.status = "Failed"
                r.body["FailureReason"] = reason[:1024]
                r.body["EndpointConfigName"] = config_name
                r.body.pop("_PendingConfig", None)

            self.store.update(ENDPOINT, name, failed)
            return

        def served(r: Record) -> None:
            r.body["EndpointConfigName"] = config_name
            r.body["_Weights"] = {}
            r.body.pop("_PendingConfig", None)
            _in_service(r, None)

        self.store.update(ENDPOINT, name, served)

    def _roll_back(self, name: str, previous: str, reason: str) -> None:
        """A failed UpdateEndpoint puts the previous configuration back, as SageMaker rolls back."""
        record = self.store.get(CONFIG, previous, where=self.store.where_of(ENDPOINT, name))
        try:
            if record is None:
                raise HostingError(f"the previous endpoint configuration {previous} no longer exists")
            self.hosting.deploy(
                name,
                self._variant_specs(_internal(record), record),
                async_inference=record.body.get("AsyncInferenceConfig"),
                where=record.where,
            )
        except Exception as exc:
            message = f"Update failed ({reason}); rolling back also failed: {exc}"
            self.store.update(ENDPOINT, name, lambda r: _failed(r, message))
            return
        self.store.update(
            ENDPOINT, name, lambda r: _in_service(r, f"Update failed and was rolled back: {reason}")
        )

    def resume_endpoints(self) -> None:
        """Finish what a stopped server left half done. Serving endpoints need nothing: the hosting layer
        brings their workers back on the first invocation."""
        for record in self.store.records(ENDPOINT):
            if record.status == "Deleting":
                self._in_background(record.name, partial(self._undeploy, record.name))
            elif record.status == "Updating" and not record.body.get("_PendingConfig"):
                self.store.update(ENDPOINT, record.name, partial(_in_service, reason=None))
            elif record.status in ("Creating", "Updating"):
                target = record.body.get("_PendingConfig") or record.body["EndpointConfigName"]
                previous = record.body["EndpointConfigName"] if record.status == "Updating" else None
                config = self.store.get(CONFIG, target, where=record.where)
                if config is None:
                    gone = partial(_failed, reason=f"The endpoint configuration {target} no longer exists.")
                    self.store.update(ENDPOINT, record.name, gone)
                    continue
                try:
                    specs = self._variant_specs(_internal(config), config)
                except ValidationException as exc:
                    self.store.update(ENDPOINT, record.name, partial(_failed, reason=exc.message))
                    continue
                self._in_background(record.name, partial(self._deploy, record.name, target, specs, previous))

    def _undeploy(self, name: str) -> None:
        try:
            self.hosting.undeploy(name)
        except Exception:  # the record goes regardless: nothing can serve a deleted endpoint
            log.exception("undeploying %s failed", name)
        self.store.delete(ENDPOINT, name)


def _in_service(record: Record, reason: str | None) -> None:
    record.status = "InService"
    record.body.pop("_PendingConfig", None)
    record.body.pop("_DesiredWeights", None)
    if reason:
        record.body["FailureReason"] = reason[:1024]
    else:
        record.body.pop("FailureReason", None)


def _failed(record: Record, reason: str) -> None:
    record.status = "Failed"
    record.body.pop("_PendingConfig", None)
    record.body.pop("_DesiredWeights", None)
    record.body["FailureReason"] = reason[:1024]


def _internal(config: Record) -> RequestContext:
    """A context for work no request started (redeploying after a restart, rolling back), in the
    account and region of the endpoint configuration it deploys."""
    return RequestContext(
        service="sagemaker",
        operation="CreateEndpoint",
        request_id="",
        region=config.region,
        account_id=config.account,
    )
