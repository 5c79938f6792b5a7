"""Model archives from the object store: `model.tar.gz` (or an uncompressed S3 prefix) into a folder.

Runs in the server: workers see only local folders, as a SageMaker container sees /opt/ml/model.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path
from urllib.parse import urlparse

from outcrop.storage.objects import NoSuchBucket, NoSuchKey, ObjectStore

CONTAINER_MODEL_DIR = "/opt/ml/model"


class ArchiveMissing(Exception):
    """No object (or no object under the prefix) at the S3 URL."""


class ArchiveInvalid(Exception):
    """The object is not a readable tar archive, or would write outside its folder."""


def parse_s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ArchiveMissing(f"{url} is not an s3:// URL.")
    return parsed.netloc, parsed.path.lstrip("/")


def fetch(objects: ObjectStore, url: str, destination: Path) -> None:
    """Unpack the archive at `url` into `destination` (replaced); a URL ending in / copies the prefix."""
    bucket, key = parse_s3_url(url)
    staging = destination.with_name(destination.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if key.endswith("/") or not key:
            _copy_prefix(objects, bucket, key, staging)
        else:
            _unpack(objects, bucket, key, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(destination, ignore_errors=True)
    staging.rename(destination)


def _unpack(objects: ObjectStore, bucket: str, key: str, target: Path) -> None:
    try:
        _, handle = objects.open_object(bucket, key)
    except (NoSuchBucket, NoSuchKey) as exc:
        raise ArchiveMissing(f"No object at s3://{bucket}/{key}.") from exc
    with handle:
        try:
            with tarfile.open(fileobj=handle, mode="r:*") as archive:
                archive.extractall(target, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ArchiveInvalid(f"s3://{bucket}/{key} is not a readable tar.gz archive: {exc}") from exc


def _copy_prefix(objects: ObjectStore, bucket: str, prefix: str, target: Path) -> None:
    copied = 0
    try:
        for info in objects.iter_objects(bucket, prefix):
            relative = info.key[len(prefix) :]
            path = (target / relative).resolve()
            if not relative or relative.endswith("/") or not path.is_relative_to(target.resolve()):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(objects.read_object(bucket, info.key))
            copied += 1
    except NoSuchBucket as exc:
        raise ArchiveMissing(f"No bucket {bucket}.") from exc
    if not copied:
        raise ArchiveMissing(f"No objects under s3://{bucket}/{prefix}.")


def local_path(model_dir: Path, container_path: str) -> Path | None:
    """Where a path inside the container's /opt/ml/model lies here (None if it is elsewhere)."""
    if container_path == CONTAINER_MODEL_DIR or container_path.startswith(CONTAINER_MODEL_DIR + "/"):
        return model_dir / container_path[len(CONTAINER_MODEL_DIR) :].lstrip("/")
    return None
