"""A deployed endpoint: its variants' instances, the traffic split, and multi-model loading.

Traffic goes to a variant at random in proportion to the weights (TargetVariant pins one). A multi-model
variant fetches `TargetModel` from under its S3 prefix on first use and unloads the least recently used model
when more than `max_models` are loaded in an instance.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.services.sagemaker.serving import archive
from outcrop.services.sagemaker.serving.archive import ArchiveInvalid, ArchiveMissing
from outcrop.services.sagemaker.serving.frameworks import framework_of_image
from outcrop.services.sagemaker.serving.process import (
    Instance,
    RequirementsFailed,
    WorkerFailed,
    python_with_requirements,
    worker_environment,
)
from outcrop.services.sagemaker.serving.spec import VariantSpec
from outcrop.storage.logs import LogStore
from outcrop.storage.objects import ObjectStore

_INSTALLING = threading.Lock()  # one pip at a time: two deployments may want the same environment
MAX_WORKERS_PER_VARIANT = 4  # more processes than this would only fight over the cores


def _server_workers(env: dict[str, str]) -> int:
    """Model-server workers per instance: SAGEMAKER_MODEL_SERVER_WORKERS, as the containers read it (1)."""
    value = env.get("SAGEMAKER_MODEL_SERVER_WORKERS", "1").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 1


class DeployFailed(Exception):
    """The variant cannot start: the reason becomes the endpoint's FailureReason."""


class Rejected(Exception):
    """The request cannot be routed (unknown variant, missing target model): a ValidationError."""


class NotReady(Exception):
    """No instance of the variant can answer yet (loading or restarting)."""


@dataclass
class Limits:
    """Set from Settings: sagemaker_load_timeout, sagemaker_invoke_timeout (seconds), sagemaker_max_models."""

    load_timeout: float
    invoke_timeout: float
    max_models: int


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120] or "_"


class RunningVariant:
    def __init__(
        self,
        spec: VariantSpec,
        root: Path,
        objects: ObjectStore,
        logs: LogStore,
        log_group: str,
        limits: Limits,
    ) -> None:
        self.spec = spec
        self.name = spec.variant_name
        self.weight = float(spec.initial_weight)
        self.root = root
        self.objects = objects
        self.logs = logs
        self.log_group = log_group
        self.limits = limits
        self.framework = framework_of_image(spec.image)
        self.instances: list[Instance] = []
        self._next = 0
        self._fetch_lock = threading.Lock()
        self.container_script: Path | None = None

    # -- deployment -----------------------------------------------------------------------------------------

    def start(self) -> None:
        env = dict(self.spec.environment)
        model_dir = self.root / "model"
        if self.spec.multi_model:
            if not self.spec.model_data_url:
                raise DeployFailed("A multi-model endpoint needs a ModelDataUrl prefix.")
            model_dir.mkdir(parents=True, exist_ok=True)
        elif self.spec.model_data_url:
            self._fetch(self.spec.model_data_url, model_dir)
        else:
            model_dir.mkdir(parents=True, exist_ok=True)
        self.container_script = self._script(env, model_dir)
        load: dict[str, Any] = {
            "framework": self.framework,
            "model_dir": str(model_dir),
            "script": str(self.container_script) if self.container_script else None,
            "env": env,
            "multi_model": self.spec.multi_model,
        }
        worker_env = worker_environment({**env, "SM_MODEL_DIR": str(model_dir)})
        python = self._python(self.container_script)
        count = max(1, min(self.spec.instance_count * _server_workers(env), MAX_WORKERS_PER_VARIANT))
        for _ in range(count):
            instance = Instance(
                load=load,
                env=worker_env,
                logs=self.logs,
                log_group=self.log_group,
                stream_prefix=self.name,
                load_timeout=self.limits.load_timeout,
                python=python,
                instance_type=self.spec.instance_type,
            )
            try:
                instance.start()
            except WorkerFailed as exc:
                raise DeployFailed(
                    f"The model in production variant {self.name} failed to load: {exc.message}"
                ) from exc
            finally:
                self.instances.append(instance)

    def _python(self, script: Path | None) -> str:
        """The server's Python, or a virtual environment with the script's requirements.txt installed."""
        requirements = script.parent / "requirements.txt" if script is not None else None
        if requirements is None or not requirements.is_file():
            return sys.executable
        log_stream = f"{self.name}/requirements"

        def log_line(line: str) -> None:
            self.logs.put(self.log_group, log_stream, [line])

        digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
        venv = self.root.parents[2] / "venvs" / digest  # shared by every deployment of the same requirements
        try:
            with _INSTALLING:
                return python_with_requirements(requirements, venv, log_line)
        except RequirementsFailed as exc:
            raise DeployFailed(
                f"Production variant {self.name} could not install requirements.txt: {exc}"
            ) from exc

    def _fetch(self, url: str, target: Path) -> None:
        try:
            archive.fetch(self.objects, url, target)
        except ArchiveMissing as exc:
            raise DeployFailed(
                f"Failed to download model data for production variant {self.name}: {exc} Please ensure that "
                "there is an object located at the URL and that the role passed to CreateModel can read it."
            ) from exc
        except ArchiveInvalid as exc:
            raise DeployFailed(
                f"Failed to extract model data for production variant {self.name}: {exc}"
            ) from exc

    def _script(self, env: dict[str, str], model_dir: Path) -> Path | None:
        """The inference script, found as the framework containers find it (SAGEMAKER_PROGRAM)."""
        program = env.get("SAGEMAKER_PROGRAM", "").strip()
        submit = env.get("SAGEMAKER_SUBMIT_DIRECTORY", "").strip()
        if not program:
            default = model_dir / "code" / "inference.py"
            return default if default.is_file() else None
        if submit.startswith("s3://"):
            code_dir = self.root / "code"
            self._fetch(submit, code_dir)
        else:
            code_dir = archive.local_path(model_dir, submit or "/opt/ml/model/code") or model_dir / "code"
        script = code_dir / program
        if not script.is_file():
            raise DeployFailed(
                f"The inference script {program} (SAGEMAKER_PROGRAM) is not in "
                f"{submit or 'the model archive'}."
            )
        return script

    def stop(self, *, drain_seconds: float = 0.0) -> None:
        for instance in self.instances:
            instance.stop(drain_seconds=drain_seconds)

    # -- requests -------------------------------------------------------------------------------------------

    def acquire(self) -> Instance:
        """A ready instance with its lock held: an idle one if any, else the next in turn (waiting)."""
        ready = [i for i in self.instances if i.ready.is_set()]
        if not ready:
            reason = next((i.failure for i in self.instances if i.failure), None)
            raise NotReady(reason or f"Production variant {self.name} is restarting its model server.")
        for instance in ready:
            if instance.lock.acquire(blocking=False):
                return instance
        self._next = (self._next + 1) % len(ready)
        instance = ready[self._next]
        instance.lock.acquire()
        return instance

    def ensure_model(self, instance: Instance, target_model: str) -> None:
        """Load `target_model` into the instance (lock held); past the cap, unload the least recently used."""
        if target_model in instance.loaded_models:
            instance.loaded_models[target_model] = instance.loaded_models.pop(target_model)  # now most recent
            return
        prefix = self.spec.model_data_url or ""
        model_dir = self.root / "models" / _safe_name(target_model)
        with self._fetch_lock:
            if not model_dir.is_dir():
                url = prefix + ("" if prefix.endswith("/") else "/") + target_model
                try:
                    archive.fetch(self.objects, url, model_dir)
                except (ArchiveMissing, ArchiveInvalid) as exc:
                    raise Rejected(
                        f"Failed to download model data(target model: {target_model}): {exc} Please ensure "
                        "that there is an object located at the URL and that the role passed to CreateModel "
                        "has permissions to download the model."
                    ) from exc
        own_script = model_dir / "code" / "inference.py"
        script = own_script if own_script.is_file() else self.container_script
        header = {
            "op": "load_model",
            "name": target_model,
            "model_dir": str(model_dir),
            "script": str(script or "") or None,
        }
        while len(instance.loaded_models) >= self.limits.max_models:
            oldest = next(iter(instance.loaded_models))
            instance.ask({"op": "unload_model", "name": oldest}, b"", self.limits.invoke_timeout)
            del instance.loaded_models[oldest]
            instance.write_log(f"Unloaded model {oldest} (least recently used).")
        instance.ask(header, b"", self.limits.load_timeout)
        instance.loaded_models[target_model] = None
        instance.write_log(f"Loaded model {target_model}.")


class RunningEndpoint:
    def __init__(
        self, name: str, variants: list[RunningVariant], async_inference: dict[str, Any] | None = None
    ) -> None:
        self.name = name
        self.variants = {v.name: v for v in variants}
        self.async_inference = async_inference

    def choose(self, target_variant: str | None) -> RunningVariant:
        if target_variant:
            variant = self.variants.get(target_variant)
            if variant is None:
                raise Rejected(
                    f"Target variant {target_variant} is not a production variant of endpoint {self.name} "
                    f"(it has {', '.join(sorted(self.variants))})."
                )
            return variant
        candidates = [v for v in self.variants.values() if v.weight > 0]
        if not candidates:
            raise Rejected(f"Endpoint {self.name} has no production variant with a weight above 0.")
        return random.choices(candidates, weights=[v.weight for v in candidates])[0]

    def set_weights(self, weights: dict[str, float]) -> None:
        unknown = set(weights) - set(self.variants)
        if unknown:
            raise Rejected(f"Endpoint {self.name} has no production variant {', '.join(sorted(unknown))}.")
        for name, weight in weights.items():
            self.variants[name].weight = float(weight)

    def stop(self, *, drain_seconds: float = 0.0) -> None:
        for variant in self.variants.values():
            variant.stop(drain_seconds=drain_seconds)


class HeldStream(Iterator[bytes]):
    """A streamed answer's parts, holding their instance until they end, are closed, or are dropped unread.

    `finished` is told how the stream ended (None, or the worker's failure) and may return the exception to
    raise instead. A stream the caller leaves early is drained in a thread, so the next request starts on a
    clean channel without the caller (or the garbage collector) waiting for the model to finish.
    """

    def __init__(
        self,
        instance: Instance,
        parts: Iterator[bytes],
        finished: Callable[[WorkerFailed | None], Exception | None],
    ) -> None:
        self._instance = instance
        self._parts = parts
        self._finished = finished
        self._done = False
        self._guard = threading.Lock()

    def _end(self, failure: WorkerFailed | None) -> Exception | None:
        with self._guard:
            if self._done:
                return None
            self._done = True
        self._instance.lock.release()
        return self._finished(failure)

    def __next__(self) -> bytes:
        if self._done:
            raise StopIteration
        try:
            return next(self._parts)
        except StopIteration:
            self._end(None)
            raise
        except WorkerFailed as exc:
            error = self._end(exc)
            raise (error or exc) from exc

    def close(self) -> None:
        if self._done:
            return

        def drain() -> None:
            self._instance.drain(self._parts)
            self._end(None)

        with contextlib.suppress(RuntimeError):  # at interpreter shutdown no thread starts; workers go too
            threading.Thread(target=drain, daemon=True, name="sm-stream-drain").start()

    def __del__(self) -> None:
        self.close()
