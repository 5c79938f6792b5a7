"""Moving a training job's files: S3 channels in, the source tarball in, model and output archives out.

All through the in-process object store, so the objects are the ones boto3 and the SDK put and get.
"""

from __future__ import annotations

import io
import logging
import shutil
import tarfile
import threading
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from outcrop.storage.objects import StoreError

if TYPE_CHECKING:
    from outcrop.storage.logs import LogStore
    from outcrop.storage.objects import ObjectStore


log = logging.getLogger("outcrop.sagemaker.training")
MAX_EVENT_CHARS = 60_000  # well under CloudWatch Logs' 256 KB per event, even for 4-byte characters


class JobFailure(Exception):
    """The job cannot go on; `reason` is its FailureReason as SageMaker words it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise JobFailure(f"ClientError: {uri!r} is not an S3 URI (s3://bucket/key).")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise JobFailure(f"ClientError: {uri!r} names no bucket.")
    return bucket, key


def download_channel(objects: ObjectStore, channel: str, uri: str, target: Path) -> int:
    """Copy each object under the S3 prefix into `target`, keeping key paths below the prefix; bytes read."""
    bucket, prefix = split_s3_uri(uri)
    copied = 0
    found = False
    try:
        for info in objects.iter_objects(bucket, prefix):
            if info.key.endswith("/"):
                continue
            relative = info.key[len(prefix) :].lstrip("/") or PurePosixPath(info.key).name
            path = (target / relative).resolve()
            if not path.is_relative_to(target.resolve()):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            _, stream = objects.open_object(bucket, info.key)
            with stream, path.open("wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
            copied += info.size
            found = True
    except StoreError as exc:
        raise JobFailure(
            f"ClientError: Data download failed for channel '{channel}': {exc.message} ({uri})"
        ) from exc
    if not found:
        raise JobFailure(
            f'ClientError: Data download failed: No S3 objects found under S3 URL "{uri}" given in input '
            "data source. Please ensure that the bucket exists in the selected region, that objects exist "
            f"under that S3 prefix, and that the role has access (channel '{channel}')."
        )
    return copied


def extract_source(objects: ObjectStore, uri: str, target: Path) -> None:
    """Unpack the SDK's `sourcedir.tar.gz` (the entry point and its folder) into the code folder."""
    bucket, key = split_s3_uri(uri)
    try:
        data = objects.read_object(bucket, key)
    except StoreError as exc:
        raise JobFailure(f"ClientError: Could not download the training code {uri}: {exc.message}") from exc
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            archive.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise JobFailure(
            f"ClientError: The training code at {uri} is not a readable tar archive: {exc}"
        ) from exc


def upload_folder_archive(objects: ObjectStore, folder: Path, uri: str) -> None:
    """Pack the folder's contents (not the folder itself) into a gzipped tar, as SageMaker packs a model."""
    bucket, key = split_s3_uri(uri)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    try:
        objects.put_object(bucket, key, buffer.getvalue())
    except StoreError as exc:
        raise JobFailure(f"ClientError: Could not upload the job's output to {uri}: {exc.message}") from exc


class LogWriter:
    """Lines of one CloudWatch Logs stream, written in small batches so a tailing client sees them live."""

    def __init__(self, logs: LogStore, group: str, stream: str, *, interval_s: float = 0.3) -> None:
        self.logs = logs
        self.group = group
        self.stream = stream
        self._pending: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, args=(interval_s,), daemon=True)
        self._flusher.start()

    def write(self, line: str) -> None:
        if len(line) > MAX_EVENT_CHARS:  # CloudWatch Logs refuses events over 256 KB
            line = line[:MAX_EVENT_CHARS] + " [truncated]"
        with self._lock:
            self._pending.append((int(time.time() * 1000), line))

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            try:
                self.logs.put(self.group, self.stream, batch)
            except Exception:  # losing log lines must not stop the job or later flushes
                log.exception("could not write %d log lines to %s %s", len(batch), self.group, self.stream)

    def close(self) -> None:
        self._closed.set()
        self._flusher.join(5)
        self.flush()

    def _flush_periodically(self, interval_s: float) -> None:
        while not self._closed.wait(interval_s):
            self.flush()
