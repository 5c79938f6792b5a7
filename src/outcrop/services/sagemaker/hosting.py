"""The seam between the SageMaker control plane and the serving of endpoints.

CreateEndpoint/UpdateEndpoint/DeleteEndpoint (service `sagemaker`) call `deploy`, `update_weights` and
`undeploy`; InvokeEndpoint (service `sagemaker-runtime`) calls `invoke` and `invoke_stream`. One
`EndpointHosting` per server, built by `App.sagemaker_hosting` and passed to both services. What is deployed
is also written to the data dir, so after a server restart an endpoint's workers start again on its first
invocation. Endpoint names are unique per account and region, as on AWS: the seam knows an endpoint by its
key (`hosting_state.endpoint_key`), and callers name its account and region with `where` (a caller that
does not finds the server's default region's endpoint of that name first, then any other's). Under
`auth = "iam"` a variant's workers run with an STS session of its model's ExecutionRoleArn.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outcrop.services.sagemaker.hosting_outcomes import (
    HostingError,
    Invocation,
    InvocationRejected,
    ModelInvocationError,
    ModelNotReady,
    StreamedInvocation,
    invoke_header,
    log_group_of,
    model_error,
)
from outcrop.services.sagemaker.hosting_state import DeployedState, Where, endpoint_key
from outcrop.services.sagemaker.roles import worker_spec
from outcrop.services.sagemaker.serving.asynchronous import AsyncInvoker, AsyncRequest
from outcrop.services.sagemaker.serving.endpoint import (
    DeployFailed,
    HeldStream,
    Limits,
    NotReady,
    Rejected,
    RunningEndpoint,
    RunningVariant,
)
from outcrop.services.sagemaker.serving.metrics import Bucket, InvocationMetrics
from outcrop.services.sagemaker.serving.process import Instance, WorkerFailed
from outcrop.services.sagemaker.serving.spec import VariantSpec
from outcrop.storage.logs import LogStore
from outcrop.storage.objects import ObjectStore

if TYPE_CHECKING:
    from outcrop.iam.execution import ExecutionRoles

__all__ = [  # the outcomes are re-exported: callers import the whole seam from here
    "EndpointHosting",
    "HostingError",
    "InvocationRejected",
    "ModelInvocationError",
    "ModelNotReady",
    "StreamedInvocation",
    "log_group_of",
]
log = logging.getLogger("outcrop.sagemaker")


class EndpointHosting:
    """Runs every InService endpoint: worker processes per variant, traffic split, metrics."""

    def __init__(
        self,
        *,
        objects: ObjectStore,
        logs: LogStore,
        root: Path,
        limits: Limits,
        account_id: str,
        region: str = "us-east-1",
        execution_roles: ExecutionRoles | None = None,
    ) -> None:
        """`root` holds the deployed endpoints' files and what survives a restart; `limits` come from
        Settings (sagemaker_load_timeout...); `account_id`, `region`: where pre-region endpoints live;
        `execution_roles` (under `auth = "iam"`) gives workers their model's role credentials."""
        self.execution_roles = execution_roles
        self.objects = objects
        self.logs = logs
        self.account_id = account_id
        self.default: Where = (account_id, region)
        self.metrics = InvocationMetrics()
        self.limits = limits
        self._endpoints: dict[str, RunningEndpoint] = {}
        self._lock = threading.Lock()
        self._deploy_locks: dict[str, threading.Lock] = {}
        self._root = root
        self._state = DeployedState(self._root / "endpoints.json", self.default)
        self._async = AsyncInvoker(objects)

    # -- deployment ---------------------------------------------------------------------------------------

    def deploy(
        self,
        endpoint_name: str,
        variants: list[VariantSpec],
        *,
        async_inference: dict[str, Any] | None = None,
        where: Where | None = None,
    ) -> None:
        """Start (or replace) the endpoint's workers; returns when they serve, raises HostingError if not.

        `async_inference` is the endpoint configuration's AsyncInferenceConfig, if it has one: it enables
        InvokeEndpointAsync. `where` is the endpoint's account and region (the defaults if not given)."""
        where = where or self.default
        with self._deploy_lock(endpoint_key(endpoint_name, where)):
            self._deploy(endpoint_name, variants, async_inference, where)

    def _deploy(
        self,
        endpoint_name: str,
        variants: list[VariantSpec],
        async_inference: dict[str, Any] | None,
        where: Where,
    ) -> None:
        if not variants:
            raise HostingError("The endpoint configuration has no production variants.")
        key = endpoint_key(endpoint_name, where)
        generation = self._root / "endpoints" / key / secrets.token_hex(4)
        running: list[RunningVariant] = []
        try:
            for spec in variants:
                variant = RunningVariant(
                    worker_spec(spec, where, self.execution_roles),
                    generation / spec.variant_name,
                    self.objects,
                    self.logs.scoped(*where),
                    log_group_of(endpoint_name),
                    self.limits,
                )
                running.append(variant)
                variant.start()
        except DeployFailed as exc:
            for variant in running:
                variant.stop()
            shutil.rmtree(generation, ignore_errors=True)
            raise HostingError(str(exc)) from exc
        with self._lock:
            previous = self._endpoints.get(key)
            self._endpoints[key] = RunningEndpoint(endpoint_name, running, async_inference)
        if previous is not None:  # blue/green: the old fleet goes once the new one serves
            self._retire(previous)
        with self._lock:
            self._state.save(endpoint_name, [asdict(v) for v in variants], async_inference, where)

    def update_weights(
        self, endpoint_name: str, weights: dict[str, float], *, where: Where | None = None
    ) -> None:
        """Change the traffic split live (UpdateEndpointWeightsAndCapacities)."""
        key = self._key(endpoint_name, where)
        endpoint = self._running(key)
        try:
            endpoint.set_weights(weights)
        except Rejected as exc:
            raise HostingError(str(exc)) from exc
        with self._lock:
            state = self._state.load()
            if key in state:
                for spec in state[key]["variants"]:
                    if spec["variant_name"] in weights:
                        spec["initial_weight"] = float(weights[spec["variant_name"]])
                self._state.write(state)

    def scale(self, endpoint_name: str, variant_name: str, count: int, *, where: Where | None = None) -> None:
        """Run `count` instances of a variant: a new fleet starts and takes the traffic; the old drains."""
        key = self._key(endpoint_name, where)
        endpoint = self._running(key)
        with self._deploy_lock(key):
            if self._endpoints.get(key) is not endpoint:  # undeployed (or replaced) since it was read
                raise HostingError(f"The endpoint {endpoint_name} is no longer deployed.")
            old = endpoint.variants[variant_name]
            root = old.root.parent / f"{variant_name}-{secrets.token_hex(3)}"
            spec, group = replace(old.spec, instance_count=count), log_group_of(endpoint_name)
            logs = self.logs.scoped(*(self.located(endpoint_name, where=where) or self.default))
            new = RunningVariant(spec, root, self.objects, logs, group, self.limits)
            new.weight = old.weight
            try:
                new.start()
            except DeployFailed as exc:
                new.stop()
                raise HostingError(str(exc)) from exc
            endpoint.variants[variant_name] = new
            with self._lock:
                state = self._state.load()
                for saved in state.get(key, {}).get("variants", []):
                    if saved["variant_name"] == variant_name:
                        saved["instance_count"] = count
                self._state.write(state)
        old.stop(drain_seconds=self.limits.invoke_timeout)
        shutil.rmtree(old.root, ignore_errors=True)

    def located(self, endpoint_name: str, *, where: Where | None = None) -> Where | None:
        """The account and region of a deployed endpoint of that name (in `where`, when given)."""
        saved = self._state.load().get(self._key(endpoint_name, where))
        return None if saved is None else self._state.where(saved)

    def instance_counts(self, endpoint_name: str, *, where: Where | None = None) -> dict[str, int]:
        """Each variant's instances now (what auto scaling last set), from the saved deployment."""
        saved = self._state.load().get(self._key(endpoint_name, where), {}).get("variants", [])
        return {v["variant_name"]: int(v["instance_count"]) for v in saved}

    def undeploy(self, endpoint_name: str, *, where: Where | None = None) -> None:
        key = self._key(endpoint_name, where)
        with self._deploy_lock(key):
            state = self._state.load()  # forgotten first, so no call can restart what is going away
            if state.pop(key, None) is not None:
                self._state.write(state)
            with self._lock:
                endpoint = self._endpoints.pop(key, None)
            if endpoint is not None:
                self._retire(endpoint)
            shutil.rmtree(self._root / "endpoints" / key, ignore_errors=True)

    def _key(self, endpoint_name: str, where: Where | None) -> str:
        """The endpoint's key: in `where`, else the default region's of that name, else any region's."""
        if where is not None:
            return endpoint_key(endpoint_name, where)
        default = endpoint_key(endpoint_name, self.default)
        with self._lock:
            if default in self._endpoints:
                return default
        state = self._state.load()
        if default in state:
            return default
        return next((k for k, saved in state.items() if saved["name"] == endpoint_name), default)

    def close(self) -> None:
        """Stop every worker (server shutdown)."""
        self._async.close()
        with self._lock:
            endpoints, self._endpoints = list(self._endpoints.values()), {}
        for endpoint in endpoints:
            endpoint.stop()

    def _retire(self, endpoint: RunningEndpoint) -> None:
        """Stop a replaced or deleted fleet, letting the calls it is answering finish first."""
        endpoint.stop(drain_seconds=self.limits.invoke_timeout)
        for variant in endpoint.variants.values():
            shutil.rmtree(variant.root.parent, ignore_errors=True)

    def _deploy_lock(self, endpoint_name: str) -> threading.Lock:
        with self._lock:
            return self._deploy_locks.setdefault(endpoint_name, threading.Lock())

    # -- what survives a restart --------------------------------------------------------------------------

    def _running(self, key: str) -> RunningEndpoint:
        """The deployed endpoint, restarting its workers if the server restarted since it was deployed."""
        with self._lock:
            endpoint = self._endpoints.get(key)
        if endpoint is not None:
            return endpoint
        region, account, endpoint_name = key.split("/", 2)
        if self._state.load().get(key) is None:
            raise InvocationRejected(f"Endpoint {endpoint_name} of account {account} not found.")
        with self._deploy_lock(key):
            with self._lock:
                endpoint = self._endpoints.get(key)
            if endpoint is not None:  # another request restarted it meanwhile
                return endpoint
            saved = self._state.load().get(key)
            if saved is None:  # deleted while this call waited: a deleted endpoint never comes back
                raise InvocationRejected(f"Endpoint {endpoint_name} of account {account} not found.")
            log.info("restarting the workers of endpoint %s (%s)", endpoint_name, region)
            try:
                specs = [VariantSpec(**spec) for spec in saved["variants"]]
                self._deploy(endpoint_name, specs, saved.get("async_inference"), (account, region))
            except HostingError as exc:
                raise ModelNotReady(
                    f"Endpoint {endpoint_name} could not restart its model server: {exc}"
                ) from exc
            with self._lock:
                return self._endpoints[key]

    # -- invocation ---------------------------------------------------------------------------------------

    def _start(
        self, key: str, endpoint_name: str, target_variant: str | None, target_model: str | None
    ) -> tuple[RunningEndpoint, RunningVariant, Instance]:
        endpoint = self._running(key)
        try:
            variant = endpoint.choose(target_variant)
        except Rejected as exc:
            raise InvocationRejected(str(exc)) from exc
        if target_model and not variant.spec.multi_model:
            raise InvocationRejected(
                f"Endpoint {endpoint_name} is not a multi-model endpoint, so it does not take a TargetModel."
            )
        if variant.spec.multi_model and not target_model:
            raise InvocationRejected(
                f"Endpoint {endpoint_name} is a multi-model endpoint: name the model with TargetModel."
            )
        try:
            instance = variant.acquire()
        except NotReady as exc:
            raise ModelNotReady(str(exc)) from exc
        return endpoint, variant, instance

    def invoke(
        self,
        endpoint_name: str,
        body: bytes,
        *,
        content_type: str | None,
        accept: str | None,
        target_variant: str | None = None,
        target_model: str | None = None,
        custom_attributes: str | None = None,
        where: Where | None = None,
    ) -> Invocation:
        received = time.perf_counter()
        key = self._key(endpoint_name, where)
        _, variant, instance = self._start(key, endpoint_name, target_variant, target_model)
        status, model_seconds = 200, None
        try:
            if target_model:
                try:
                    self._load_target(key, endpoint_name, variant, instance, target_model, received)
                except InvocationRejected:
                    status = 400
                    raise
                except ModelInvocationError as exc:
                    status = exc.status
                    raise
            header = invoke_header(content_type, accept, custom_attributes, target_model)
            started = time.perf_counter()
            try:
                answer, data = instance.ask(header, body, self.limits.invoke_timeout)
            except WorkerFailed as exc:
                status = exc.status
                raise model_error(endpoint_name, exc) from exc
            model_seconds = time.perf_counter() - started
            response_type = str(answer.get("content_type") or "application/json")
            return Invocation(data, response_type, variant.name, answer.get("custom_attributes"))
        finally:
            instance.lock.release()
            self._record(key, variant, status, model_seconds, received)

    def invoke_stream(
        self,
        endpoint_name: str,
        body: bytes,
        *,
        content_type: str | None,
        accept: str | None,
        target_variant: str | None = None,
        custom_attributes: str | None = None,
        where: Where | None = None,
    ) -> StreamedInvocation:
        """Start an invocation whose answer streams; errors before the first part raise, as with `invoke`."""
        received = time.perf_counter()
        key = self._key(endpoint_name, where)
        _, variant, instance = self._start(key, endpoint_name, target_variant, None)
        header = invoke_header(content_type, accept, custom_attributes, None)
        started = time.perf_counter()
        try:
            first, parts = instance.open_stream(header, body, self.limits.invoke_timeout)
        except WorkerFailed as exc:
            instance.lock.release()
            self._record(key, variant, exc.status, None, received)
            raise model_error(endpoint_name, exc) from exc
        except BaseException:
            instance.lock.release()
            raise

        def finished(failure: WorkerFailed | None) -> Exception | None:
            if failure is None:
                self._record(key, variant, 200, time.perf_counter() - started, received)
                return None
            self._record(key, variant, failure.status, None, received)
            return model_error(endpoint_name, failure)

        response_type = str(first.get("content_type") or "application/json")
        held = HeldStream(instance, parts, finished)
        return StreamedInvocation(response_type, variant.name, held, first.get("custom_attributes"))

    def invoke_async(
        self,
        endpoint_name: str,
        *,
        input_location: str | None,
        body: bytes | None = None,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None = None,
        inference_id: str | None = None,
        output_extension: str | None = None,
        filename: str | None = None,
        where: Where | None = None,
    ) -> AsyncRequest:
        """Queue an asynchronous invocation; its answer (or error) lands in S3 where the result says."""
        where = self.located(endpoint_name, where=where) or where
        endpoint = self._running(self._key(endpoint_name, where))
        if not endpoint.async_inference:
            raise InvocationRejected(
                f"Endpoint {endpoint_name} is not configured for asynchronous inference: its endpoint "
                "configuration has no AsyncInferenceConfig."
            )
        if input_location is None and body is None:
            raise InvocationRejected("Either InputLocation or Body is required.")

        def answer(data: bytes, data_type: str | None) -> tuple[bytes, str]:
            result = self.invoke(
                endpoint_name,
                data,
                content_type=data_type,
                accept=accept,
                custom_attributes=custom_attributes,
                where=where,
            )
            return result.body, result.content_type

        return self._async.submit(
            endpoint.async_inference,
            answer,
            input_location=input_location,
            body=body,
            content_type=content_type,
            inference_id=inference_id,
            output_extension=output_extension,
            filename=filename,
        )

    def _load_target(
        self,
        key: str,
        endpoint_name: str,
        variant: RunningVariant,
        instance: Instance,
        model: str,
        received: float,
    ) -> None:
        """Make `model` loaded in the instance, recording the multi-model metrics SageMaker publishes."""
        hit = model in instance.loaded_models
        try:
            variant.ensure_model(instance, model)
            record = self.metrics.observe
            record(key, variant.name, "ModelCacheHit", 1.0 if hit else 0.0)
            record(key, variant.name, "LoadedModelCount", float(len(instance.loaded_models)))
            if not hit:
                waited = (time.perf_counter() - received) * 1e6
                record(key, variant.name, "ModelLoadingWaitTime", waited)
        except Rejected as exc:
            raise InvocationRejected(str(exc)) from exc
        except WorkerFailed as exc:
            raise model_error(endpoint_name, exc, loading=model) from exc

    def _record(
        self,
        key: str,
        variant: RunningVariant,
        status: int,
        model_seconds: float | None,
        received: float,
    ) -> None:
        total = time.perf_counter() - received
        self.metrics.record(
            key,
            variant.name,
            status=status,
            model_seconds=model_seconds,
            overhead_seconds=max(total - (model_seconds or 0.0), 0.0),
            instances=len(variant.instances),
        )

    # -- metrics (for CloudWatch and the console) ---------------------------------------------------------

    def endpoint_metrics(
        self, endpoint_name: str, *, where: Where | None = None
    ) -> dict[str, dict[str, float]]:
        """Per variant: Invocations, Invocation4XXErrors, Invocation5XXErrors, ModelLatency averages (ms)."""
        return self.metrics.summary(self._key(endpoint_name, where))

    def metric_series(
        self,
        endpoint_name: str,
        variant: str,
        metric: str,
        start: float,
        end: float,
        *,
        where: Where | None = None,
    ) -> list[tuple[int, Bucket]]:
        return self.metrics.series(self._key(endpoint_name, where), variant, metric, start, end)

    def deployed(self) -> list[str]:
        """The names of the endpoints whose workers run (any region)."""
        with self._lock:
            return sorted({endpoint.name for endpoint in self._endpoints.values()})
