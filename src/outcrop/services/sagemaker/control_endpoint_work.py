"""An endpoint's background work: deploying, rolling back, undeploying, and what a restart left half done.

CreateEndpoint/UpdateEndpoint/DeleteEndpoint answer at once; this work runs in a thread, one piece at a time
per endpoint. An endpoint is named per account and region, as on AWS, so every piece names its `where`: the
store's record, the hosting seam's deployment and the lock all are those of that region's endpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from outcrop.protocol.errors import ValidationException
from outcrop.services.sagemaker.control_common import ControlPlane, not_found
from outcrop.services.sagemaker.control_registry import PACKAGE
from outcrop.services.sagemaker.hosting import HostingError
from outcrop.services.sagemaker.hosting_state import endpoint_key
from outcrop.services.sagemaker.serving.spec import VariantSpec
from outcrop.services.sagemaker.store import Record, Where

log = logging.getLogger("outcrop.sagemaker.endpoints")

MODEL, CONFIG, ENDPOINT = "model", "endpoint-config", "endpoint"


class EndpointWork(ControlPlane):
    _endpoint_locks: dict[str, threading.Lock]

    def _variant_specs(self, config: Record, endpoint_url: str | None = None) -> list[VariantSpec]:
        """Resolve each production variant's model (and model package), in the configuration's region, into
        what the hosting seam runs; `endpoint_url` is where the workers' SDK calls go."""
        specs = []
        for variant in config.body["ProductionVariants"]:
            model = self.store.get(MODEL, variant["ModelName"], where=config.where)
            if model is None:
                arn = (
                    f"arn:aws:sagemaker:{config.region}:{config.account}:model/{variant['ModelName'].lower()}"
                )
                raise not_found("model", arn)
            container = model.body.get("PrimaryContainer") or model.body.get("Containers", [{}])[0]
            if container.get("ModelPackageName"):
                container = {
                    **self._package_container(container["ModelPackageName"], config.where),
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
                    role_arn=str(model.body.get("ExecutionRoleArn") or ""),
                    endpoint_url=endpoint_url,
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

    # -- background work -------------------------------------------------------------------------------------

    def _in_background(self, name: str, where: Where, work: Callable[[], object]) -> None:
        """Run endpoint work in a thread, one piece at a time per endpoint (a delete waits for its create)."""
        lock = self._endpoint_locks.setdefault(endpoint_key(name, where), threading.Lock())

        def run() -> None:
            with lock:
                work()

        threading.Thread(target=run, name=f"endpoint-{name}", daemon=True).start()

    def _deploy(
        self, name: str, config_name: str, specs: list[VariantSpec], previous: str | None, where: Where
    ) -> None:
        endpoint = self.store.get(ENDPOINT, name, where=where)
        if endpoint is None or endpoint.status not in WORKING:
            return  # deleted (or being deleted) before its turn: no fleet is started for it
        config = self.store.get(CONFIG, config_name, where=where)
        async_inference = config.body.get("AsyncInferenceConfig") if config else None
        try:
            self.hosting.deploy(name, specs, async_inference=async_inference, where=where)
        except Exception as exc:  # HostingError, or anything a broken deployment raised
            reason = str(exc) if isinstance(exc, HostingError) else f"{type(exc).__name__}: {exc}"
            log.warning("deploying endpoint %s failed: %s", name, reason)
            if previous is not None:
                self._roll_back(name, previous, reason, where)
                return

            def failing(r: Record) -> bool:
                if not failed(r, reason):
                    return False
                r.body["EndpointConfigName"] = config_name
                return True

            self.store.update(ENDPOINT, name, failing, where=where)
            return

        def served(r: Record) -> bool:
            if r.status not in WORKING:
                return False  # a delete began meanwhile: its undeploy, queued after this, ends the fleet
            r.body["EndpointConfigName"] = config_name
            r.body["_Weights"] = r.body.pop("_RetainedWeights", {})  # what RetainAllVariantProperties kept
            return in_service(r, None)

        self.store.update(ENDPOINT, name, served, where=where)

    def _roll_back(self, name: str, previous: str, reason: str, where: Where) -> None:
        """A failed UpdateEndpoint puts the previous configuration back, as SageMaker rolls back."""
        record = self.store.get(CONFIG, previous, where=where)
        endpoint = self.store.get(ENDPOINT, name, where=where)
        if endpoint is None or endpoint.status not in WORKING:
            return  # a delete began meanwhile: nothing to roll back to
        try:
            if record is None:
                raise HostingError(f"the previous endpoint configuration {previous} no longer exists")
            self.hosting.deploy(
                name,
                self._variant_specs(record, endpoint.body.get("_Endpoint") if endpoint else None),
                async_inference=record.body.get("AsyncInferenceConfig"),
                where=where,
            )
        except Exception as exc:
            message = f"Update failed ({reason}); rolling back also failed: {exc}"
            self.store.update(ENDPOINT, name, lambda r: failed(r, message), where=where)
            return
        back = f"Update failed and was rolled back: {reason}"
        self.store.update(ENDPOINT, name, lambda r: in_service(r, back), where=where)

    def resume_endpoints(self) -> None:
        """Finish what a stopped server left half done. Serving endpoints need nothing: the hosting layer
        brings their workers back on the first invocation."""
        for record in self.store.records(ENDPOINT):
            name, where = record.name, record.where
            if record.status == "Deleting":
                self._in_background(name, where, partial(self._undeploy, name, where))
            elif record.status == "Updating" and not record.body.get("_PendingConfig"):
                self.store.update(ENDPOINT, name, partial(in_service, reason=None), where=where)
            elif record.status in ("Creating", "Updating"):
                target = record.body.get("_PendingConfig") or record.body["EndpointConfigName"]
                previous = record.body["EndpointConfigName"] if record.status == "Updating" else None
                config = self.store.get(CONFIG, target, where=where)
                if config is None:
                    gone = partial(failed, reason=f"The endpoint configuration {target} no longer exists.")
                    self.store.update(ENDPOINT, name, gone, where=where)
                    continue
                try:
                    specs = self._variant_specs(config, record.body.get("_Endpoint"))
                except ValidationException as exc:
                    self.store.update(ENDPOINT, name, partial(failed, reason=exc.message), where=where)
                    continue
                self._in_background(name, where, partial(self._deploy, name, target, specs, previous, where))

    def _undeploy(self, name: str, where: Where) -> None:
        try:
            self.hosting.undeploy(name, where=where)
        except Exception:  # the record goes regardless: nothing can serve a deleted endpoint
            log.exception("undeploying %s failed", name)
        self.store.delete(ENDPOINT, name, where=where)


WORKING = ("Creating", "Updating")  # what background work may end; a Deleting endpoint is left to its delete


def in_service(record: Record, reason: str | None) -> bool:
    """Background work's end, only while the endpoint is still being created or updated (False: a delete
    began meanwhile, and its own work ends the endpoint)."""
    if record.status not in WORKING:
        return False
    record.status = "InService"
    record.body.pop("_PendingConfig", None)
    record.body.pop("_DesiredWeights", None)
    if reason:
        record.body["FailureReason"] = reason[:1024]
    else:
        record.body.pop("FailureReason", None)
    return True


def failed(record: Record, reason: str) -> bool:
    if record.status not in WORKING:
        return False  # a delete began meanwhile
    record.status = "Failed"
    record.body.pop("_PendingConfig", None)
    record.body.pop("_DesiredWeights", None)
    record.body["FailureReason"] = reason[:1024]
    return True
