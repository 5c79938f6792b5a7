"""Functions created through the Lambda API: their unpacked zip and settings under the data dir.

Each function has a folder `<data>/lambda/functions/<name>/` (`<account>.<region>/<name>/` outside the
server's default account and region: a function name has no dot, so the two never meet) holding
`function.json` (its settings and its published versions' snapshots, written atomically) and one
`code-<sha>/` folder per package that $LATEST or a published version runs; they are read back at start, so
functions created with CreateFunction survive a restart as they do on AWS.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from outcrop.lambdas.spec import FunctionSpec

MAX_UNZIPPED_BYTES = 250 * 1024**2  # Lambda's limit on a function's unzipped package
_UNREADABLE = "Could not unzip uploaded file. Please check your file, then try to upload again. ({})"


class PackageError(Exception):
    """A zip that cannot become a function's code (unreadable, empty, damaged, unsafe paths, too large)."""


@dataclass
class Deployed:
    spec: FunctionSpec
    code_sha256: str
    code_size: int
    last_modified: float
    role: str
    tags: dict[str, str]
    # Published versions by number: immutable snapshots of $LATEST (each spec's `version` is its number);
    # `last_version` is the highest number ever published, so a deleted version's number is not reused.
    versions: dict[str, Deployed] = field(default_factory=dict)
    last_version: int = 0

    def to_json(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "version": spec.version,
            "versions": {number: version.to_json() for number, version in self.versions.items()},
            "last_version": self.last_version,
            "name": spec.name,
            "handler": spec.handler,
            "code_dir": str(spec.code_dir),
            "runtime": spec.runtime,
            "timeout": spec.timeout,
            "memory_mb": spec.memory_mb,
            "environment": spec.environment,
            "description": spec.description,
            "code_sha256": self.code_sha256,
            "code_size": self.code_size,
            "last_modified": self.last_modified,
            "role": self.role,
            "tags": self.tags,
            "account": spec.account,
            "region": spec.region,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], default: tuple[str, str]) -> Deployed:
        """`default` places a function saved before functions had a region: the server's default."""
        spec = FunctionSpec(
            name=data["name"],
            handler=data["handler"],
            code_dir=Path(data["code_dir"]),
            runtime=data["runtime"],
            timeout=float(data["timeout"]),
            memory_mb=int(data["memory_mb"]),
            environment=dict(data["environment"]),
            description=data.get("description", ""),
            account=data.get("account") or default[0],
            region=data.get("region") or default[1],
            version=data.get("version", "$LATEST"),
        )
        return cls(
            spec,
            data["code_sha256"],
            int(data["code_size"]),
            float(data["last_modified"]),
            data.get("role", ""),
            dict(data.get("tags", {})),
            {n: cls.from_json(v, default) for n, v in data.get("versions", {}).items()},
            int(data.get("last_version", 0)),
        )


class DeployedFunctions:
    def __init__(self, root: Path, default: tuple[str, str]) -> None:
        """`default` is the server's (account, region), whose functions keep the original layout."""
        self.root = root
        self.default = default

    def folder(self, account: str, region: str, name: str) -> Path:
        if (account, region) == self.default:
            return self.root / name
        return self.root / f"{account}.{region}" / name

    def load(self) -> list[Deployed]:
        found = []
        paths = [*self.root.glob("*/function.json"), *self.root.glob("*.*/*/function.json")]
        for path in sorted(paths):
            try:
                found.append(Deployed.from_json(json.loads(path.read_text()), self.default))
            except (OSError, ValueError, KeyError):
                continue  # a half-written function from a crash mid-create is skipped, not fatal
        return found

    def unpack(self, account: str, region: str, name: str, package: bytes) -> tuple[Path, str, int]:
        """The package unzipped into a new code folder; returns it, the zip's base64 SHA-256 and size."""
        digest = hashlib.sha256(package).digest()
        target = self.folder(account, region, name) / f"code-{digest.hex()[:16]}"
        if target.is_dir():  # the same package again (a published version may run it): already unpacked
            return target, base64.b64encode(digest).decode(), len(package)
        try:
            archive = zipfile.ZipFile(io.BytesIO(package))
        except zipfile.BadZipFile as exc:
            raise PackageError(_UNREADABLE.format(exc)) from exc
        with archive:
            if all(member.is_dir() for member in archive.infolist()):
                raise PackageError("Uploaded file must be a non-empty zip: this one holds no file.")
            total = 0
            for member in archive.infolist():
                path = PurePosixPath(member.filename)
                if path.is_absolute() or ".." in path.parts:
                    raise PackageError(f"The zip file holds an unsafe path: {member.filename}")
                total += member.file_size
            if total > MAX_UNZIPPED_BYTES:
                raise PackageError(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
            staging = target.with_name(target.name + ".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            try:
                archive.extractall(staging)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                # The directory reads but a member is damaged, encrypted or oddly compressed.
                raise PackageError(_UNREADABLE.format(exc)) from exc
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        return target, base64.b64encode(digest).decode(), len(package)

    def save(self, deployed: Deployed) -> None:
        spec = deployed.spec
        folder = self.folder(spec.account, spec.region, spec.name)
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / "function.json.tmp"
        temporary.write_text(json.dumps(deployed.to_json()))
        os.replace(temporary, folder / "function.json")
        running = {deployed.spec.code_dir, *(v.spec.code_dir for v in deployed.versions.values())}
        for old in folder.glob("code-*"):  # earlier packages nobody runs any more
            if old not in running:
                shutil.rmtree(old, ignore_errors=True)

    def delete(self, spec: FunctionSpec) -> None:
        shutil.rmtree(self.folder(spec.account, spec.region, spec.name), ignore_errors=True)

    @staticmethod
    def now() -> float:
        return time.time()
