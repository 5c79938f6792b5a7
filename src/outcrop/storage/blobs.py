"""Immutable blob files: the bytes of objects and parts, each under a fresh random name.

A blob is written to `tmp/`, fsynced, renamed into `blobs/<2 hex>/<name>` and its folder fsynced, so a
blob that exists is whole. Blobs are never changed in place: a reader holding one open keeps its bytes,
and a copy can share them through a hard link.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from outcrop.storage.checksums import Digester

CHUNK = 1024 * 1024


class BlobFiles:
    def __init__(self, root: Path) -> None:
        self._blobs = root / "blobs"
        self._tmp = root / "tmp"
        self._blobs.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self._tmp, ignore_errors=True)  # half-written blobs of a previous run
        self._tmp.mkdir()

    def path(self, name: str) -> Path:
        return self._blobs / name[:2] / name

    def open(self, name: str) -> BinaryIO:
        return self.path(name).open("rb")

    def write(self, fill: Callable[[BinaryIO], None]) -> str:
        """A new blob holding what `fill` writes to the file it is given; durable when this returns."""
        name = uuid.uuid4().hex
        temporary = self._tmp / name
        try:
            with temporary.open("wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            target = self.path(name)
            target.parent.mkdir(exist_ok=True)
            os.replace(temporary, target)
            _fsync_dir(target.parent)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return name

    def write_data(self, data: bytes | BinaryIO, digester: Digester) -> str:
        return self.write(lambda out: copy_into(out, data, digester))

    def duplicate(self, name: str) -> str:
        """A new blob with the same bytes: a hard link where the file system allows, else a copy.
        FileNotFoundError if `name` is gone (replaced meanwhile)."""
        new = uuid.uuid4().hex
        target = self.path(new)
        target.parent.mkdir(exist_ok=True)
        try:
            os.link(self.path(name), target)
        except FileNotFoundError:
            raise
        except OSError:
            with self.open(name) as handle:
                return self.write_data(handle, Digester())
        _fsync_dir(target.parent)
        return new

    def delete(self, name: str) -> None:
        with suppress(FileNotFoundError):
            self.path(name).unlink()

    def names(self) -> Iterator[str]:
        for folder in self._blobs.iterdir():
            if folder.is_dir():
                for path in folder.iterdir():
                    yield path.name


def copy_into(out: BinaryIO, data: bytes | BinaryIO, digester: Digester) -> None:
    """Copy bytes or a readable file into `out` in chunks, hashing on the way."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            chunk = bytes(view[start : start + CHUNK])
            digester.update(chunk)
            out.write(chunk)
        return
    while chunk := data.read(CHUNK):
        digester.update(chunk)
        out.write(chunk)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
