"""Batch transform jobs: a model's handlers, served as an endpoint serves them, over every input file in S3.

The job starts the model's workers with the same serving stack endpoints use (`serving.endpoint`), with
as many workers as MaxConcurrentTransforms asks (capped as an endpoint variant is), cuts each input object
into requests (`transform_records`), sends them with that many in flight, and writes `<input>.out` objects
under S3OutputPath. Worker output goes to CloudWatch Logs under `/aws/sagemaker/TransformJobs`, streams named
`<job>/i-...`. A record the model fails on fails the job, with the model's message.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outcrop.services.sagemaker.serving.endpoint import DeployFailed, Limits, NotReady, RunningVariant
from outcrop.services.sagemaker.serving.process import WorkerFailed
from outcrop.services.sagemaker.serving.spec import VariantSpec
from outcrop.services.sagemaker.training_io import JobFailure, split_s3_uri
from outcrop.services.sagemaker.training_process import end_status
from outcrop.services.sagemaker.transform_records import (
    RecordTooLarge,
    assemble,
    batches,
    output_key,
    records,
)
from outcrop.storage.objects import StoreError

if TYPE_CHECKING:
    from outcrop.services.sagemaker.store import Record, SageMakerStore, Where
    from outcrop.storage.logs import LogStore
    from outcrop.storage.objects import ObjectStore

log = logging.getLogger("outcrop.sagemaker.transform")

KIND = "transform-job"
LOG_GROUP = "/aws/sagemaker/TransformJobs"
FINISHED = ("Completed", "Failed", "Stopped")
MAX_WORKERS = 4  # as an endpoint variant: more processes would only fight over the cores


class _Stopped(Exception):
    """StopTransformJob (or the server closing) arrived while the job ran."""


class TransformRunner:
    """Starts, stops and recovers transform jobs; one thread per running job."""

    def __init__(
        self, store: SageMakerStore, *, objects: ObjectStore, logs: LogStore, root: Path, limits: Limits
    ) -> None:
        self.store = store
        self.objects = objects
        self.logs = logs
        self.root = root
        self.limits = limits
        self._stops: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def recover(self) -> None:
        for record in self.store.records(KIND):
            if record.status in FINISHED:
                continue
            if record.status == "Stopping":
                self._finish(record.name, "Stopped", None, record.where)
            else:
                reason = (
                    "InternalServerError: Outcrop stopped while this transform job was running. "
                    "Start a new transform job."
                )
                self._finish(record.name, "Failed", reason, record.where)

    def close(self) -> None:
        with self._lock:
            for name in self._stops:
                self._stops[name] = self._stops[name] or "Shutdown"

    def start(self, name: str, where: Where) -> None:
        with self._lock:
            self._stops[_key(name, where)] = None
        threading.Thread(target=self._run, args=(name, where), name=f"transform-{name}", daemon=True).start()

    def stop(self, name: str, where: Where) -> None:
        key = _key(name, where)
        with self._lock:
            if key in self._stops:
                self._stops[key] = self._stops[key] or "Stopped"

    def _stopping(self, key: str) -> str | None:
        with self._lock:
            return self._stops.get(key)

    # -- one job ---------------------------------------------------------------------------------------------

    def _run(self, name: str, where: Where) -> None:
        key = _key(name, where)
        record = self.store.get(KIND, name, where=where)
        if record is None:
            return
        if record.status == "Stopping":  # stopped before this runner knew the job
            self.stop(name, where)
        self.store.update(KIND, name, lambda r: r.body.update(TransformStartTime=time.time()), where=where)
        variant: RunningVariant | None = None
        status, reason = "Completed", None
        try:
            variant = self._start_model(record)
            self._transform(record, variant)
        except _Stopped:
            status = "Failed" if self._stopping(key) == "Shutdown" else "Stopped"
            reason = (
                "InternalServerError: Outcrop stopped while this job ran." if status == "Failed" else None
            )
        except JobFailure as failure:
            status, reason = "Failed", failure.reason
        except Exception as exc:  # the job must end with a status whatever happened
            log.exception("transform job %s crashed the runner", name)
            status, reason = "Failed", f"InternalServerError: {type(exc).__name__}: {exc}"
        finally:
            if variant is not None:
                variant.stop()
            with self._lock:
                self._stops.pop(key, None)
        self._finish(name, status, reason, where)
        shutil.rmtree(self.root / key, ignore_errors=True)

    def _start_model(self, record: Record) -> RunningVariant:
        spec = record.body
        variant_spec = VariantSpec(**spec["_Variant"])
        concurrent = int(spec.get("MaxConcurrentTransforms") or 1) * variant_spec.instance_count
        workers = max(1, min(concurrent, MAX_WORKERS))
        environment = {
            **variant_spec.environment,
            **spec.get("Environment", {}),
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
        }
        variant_spec = replace(
            variant_spec, variant_name=record.name, environment=environment, instance_count=1
        )
        variant = RunningVariant(
            variant_spec,
            self.root / _key(record.name, record.where) / "variant",
            self.objects,
            self.logs.scoped(*record.where),  # the job's region's log group
            LOG_GROUP,
            self.limits,
        )
        try:
            variant.start()
        except DeployFailed as exc:
            variant.stop()
            raise JobFailure(f"ClientError: {exc}") from exc
        return variant

    def _inputs(self, spec: dict[str, Any]) -> tuple[str, list[str], str]:
        """(bucket, keys in order, the prefix outputs are named relative to)."""
        source = spec["TransformInput"]["DataSource"]["S3DataSource"]
        bucket, prefix = split_s3_uri(source["S3Uri"])
        try:
            if source["S3DataType"] == "ManifestFile":
                entries = json.loads(self.objects.read_object(bucket, prefix))
                base = str(entries[0]["prefix"])
                bucket, common = split_s3_uri(base)
                return bucket, [common + str(key) for key in entries[1:]], common
            keys = [i.key for i in self.objects.iter_objects(bucket, prefix) if not i.key.endswith("/")]
        except StoreError as exc:
            raise JobFailure(f"ClientError: Cannot read the input {source['S3Uri']}: {exc.message}") from exc
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise JobFailure(f"ClientError: The manifest {source['S3Uri']} is not valid: {exc}") from exc
        if not keys:
            raise JobFailure(f'ClientError: No S3 objects found under S3 URL "{source["S3Uri"]}".')
        return bucket, sorted(keys), prefix

    def _transform(self, record: Record, variant: RunningVariant) -> None:
        spec = record.body
        transform_input, transform_output = spec["TransformInput"], spec["TransformOutput"]
        bucket, keys, base = self._inputs(spec)
        out_bucket, out_prefix = split_s3_uri(transform_output["S3OutputPath"])
        client = spec.get("ModelClientConfig", {})
        timeout = float(client.get("InvocationsTimeoutInSeconds") or self.limits.invoke_timeout)
        retries = int(client.get("InvocationsMaxRetries", 3))
        header = {
            "op": "invoke",
            "content_type": transform_input.get("ContentType"),
            "accept": transform_output.get("Accept"),
            "custom_attributes": None,
            "model": None,
        }

        def ask(body: bytes) -> bytes:
            for attempt in range(retries + 1):
                if self._stopping(_key(record.name, record.where)):
                    raise _Stopped
                try:
                    instance = variant.acquire()
                except NotReady as exc:
                    if attempt == retries:
                        raise JobFailure(f"ClientError: The model server is not ready: {exc}") from exc
                    time.sleep(0.5)
                    continue
                try:
                    _, answer = instance.ask(header, body, timeout)
                    return answer
                except WorkerFailed as exc:
                    if exc.status < 500 or attempt == retries:
                        raise JobFailure(
                            f"ClientError: The model answered {exc.status} for a request of {len(body)} "
                            f"bytes: {exc.message}"
                        ) from exc
                finally:
                    instance.lock.release()
            raise JobFailure("ClientError: The model did not answer.")

        workers = len(variant.instances)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"transform-{record.name}") as pool:
            for key in keys:
                data = self._read(bucket, key, transform_input.get("CompressionType", "None"))
                items = records(data, transform_input.get("SplitType", "None"))
                if transform_input.get("SplitType") == "Line" and spec.get("BatchStrategy") == "SingleRecord":
                    items = [item.rstrip(b"\r\n") for item in items]
                try:
                    bodies = list(
                        batches(
                            items,
                            spec.get("BatchStrategy", "MultiRecord"),
                            int(spec.get("MaxPayloadInMB", 6)),
                            f"s3://{bucket}/{key}",
                        )
                    )
                except RecordTooLarge as exc:
                    raise JobFailure(str(exc)) from exc
                answers = list(pool.map(ask, bodies))
                target = output_key(out_prefix, key, base)
                try:
                    self.objects.put_object(
                        out_bucket, target, assemble(answers, transform_output.get("AssembleWith", "None"))
                    )
                except StoreError as exc:
                    raise JobFailure(
                        f"ClientError: Cannot write s3://{out_bucket}/{target}: {exc.message}"
                    ) from exc

    def _read(self, bucket: str, key: str, compression: str) -> bytes:
        try:
            data = self.objects.read_object(bucket, key)
        except StoreError as exc:
            raise JobFailure(f"ClientError: Cannot read s3://{bucket}/{key}: {exc.message}") from exc
        if compression == "Gzip":
            try:
                return gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise JobFailure(f"ClientError: s3://{bucket}/{key} is not gzip data: {exc}") from exc
        return data

    def _finish(self, name: str, status: str, reason: str | None, where: Where) -> None:
        now = time.time()

        def change(record: Record) -> bool:
            ended = end_status(record, status)
            if ended is None:
                return False  # ended already: the first end stands
            record.status = ended  # Stopped where a stop was accepted before this end
            record.body["TransformEndTime"] = now
            record.body.setdefault("TransformStartTime", record.created)
            if reason and ended == status:
                record.body["FailureReason"] = reason[:1024]
            return True

        self.store.update(KIND, name, change, where=where)


def _key(name: str, where: Where) -> str:
    """What the runner knows a job by, and its folder: names are unique per account and region only."""
    return f"{where[1]}/{where[0]}/{name}"
