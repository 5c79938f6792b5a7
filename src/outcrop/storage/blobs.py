"""Immutable blob files: the bytes of objects and parts, each under a fresh random name.

A blob is written to `tmp/`, fsynced, renamed into `blobs/<2 hex>/<name>` and its folder fsynced, so a
blob that exists is whole. Blobs are never changed in place: a reader holding one open keeps its bytes,
and a copy can share them through a hard link.

A sealed blob (S3's encryption at rest) holds its bytes encrypted with a data key as they are written, so
no clear byte reaches the disk: AES-256-GCM from `cryptography` over 64 KiB segments, each with its own
nonce (a random prefix per blob and the segment's number) and the last one marked in its authenticated
data, so segments cannot be reordered, dropped or cut off unnoticed, and a range read opens only the
segments it needs.
"""

from __future__ import annotations

import copy
import io
import os
import shutil
import struct
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from outcrop.storage.checksums import Digester

CHUNK = 1024 * 1024
SEGMENT = 64 * 1024  # clear bytes per sealed segment
_SEALED = b"OSEG1"
_PREFIX = 8  # random nonce prefix per blob; the segment number fills the other 4 bytes of the nonce
_TAG = 16


class BlobFiles:
    def __init__(self, root: Path) -> None:
        self._blobs = root / "blobs"
        self._tmp = root / "tmp"
        self._blobs.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self._tmp, ignore_errors=True)  # half-written blobs of a previous run
        self._tmp.mkdir()
        self._key: bytes | None = None

    def sealing(self, key: bytes) -> BlobFiles:
        """These blob files, but `write_data` encrypts what it writes with `key` (see the module doc)."""
        view = copy.copy(self)
        view._key = key
        return view

    def path(self, name: str) -> Path:
        return self._blobs / name[:2] / name

    def open(self, name: str, key: bytes | None = None) -> BinaryIO:
        """A blob's bytes; with `key`, a sealed blob's clear bytes (seekable, decrypted as read)."""
        handle = self.path(name).open("rb")
        if key is None:
            return handle
        return cast(BinaryIO, io.BufferedReader(SealedReader(handle, key), CHUNK))

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
        """A blob of `data` (hashed in the clear on the way), sealed if these files were made `sealing`."""
        key = self._key
        if key is None:
            return self.write(lambda out: copy_into(out, data, digester))

        def fill(out: BinaryIO) -> None:
            writer = SealingWriter(out, key)
            copy_into(cast(BinaryIO, writer), data, digester)
            writer.finish()

        return self.write(fill)

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


class SealingWriter:
    """Encrypts what is written to it, segment by segment, into `out`; `finish` seals the last one."""

    def __init__(self, out: BinaryIO, key: bytes) -> None:
        self._out = out
        self._aead = AESGCM(key)
        self._prefix = os.urandom(_PREFIX)
        self._pending = bytearray()
        self._index = 0
        out.write(_SEALED + self._prefix)

    def write(self, data: bytes) -> int:
        self._pending += data
        while len(self._pending) > SEGMENT:  # always keep some back: the last segment is marked
            self._emit(bytes(self._pending[:SEGMENT]), last=False)
            del self._pending[:SEGMENT]
        return len(data)

    def finish(self) -> None:
        self._emit(bytes(self._pending), last=True)
        self._pending.clear()

    def _emit(self, segment: bytes, *, last: bool) -> None:
        nonce = self._prefix + struct.pack(">I", self._index)
        self._out.write(self._aead.encrypt(nonce, segment, b"\x01" if last else b"\x00"))
        self._index += 1


class SealedBlobError(OSError):
    """A sealed blob that does not open with the key given, or was changed."""


class SealedReader(io.RawIOBase):
    """The clear bytes of a sealed blob: seekable, opening only the segments a read touches."""

    def __init__(self, handle: BinaryIO, key: bytes) -> None:
        self._handle = handle
        self._aead = AESGCM(key)
        head = handle.read(len(_SEALED) + _PREFIX)
        if not head.startswith(_SEALED):
            raise SealedBlobError("not a sealed blob")
        self._prefix = head[len(_SEALED) :]
        self._start = len(head)
        stored = os.fstat(handle.fileno()).st_size - self._start
        self._segments = max(1, -(-stored // (SEGMENT + _TAG)))
        self.size = stored - self._segments * _TAG
        self._position = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._position >= self.size:
            return 0
        index, within = divmod(self._position, SEGMENT)
        clear = self._segment(index)[within:]
        count = min(len(buffer), len(clear))
        memoryview(buffer)[:count] = clear[:count]
        self._position += count
        return count

    def close(self) -> None:
        self._handle.close()
        super().close()

    def _segment(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        self._handle.seek(self._start + index * (SEGMENT + _TAG))
        sealed = self._handle.read(SEGMENT + _TAG)
        last = index == self._segments - 1
        nonce = self._prefix + struct.pack(">I", index)
        try:
            clear = self._aead.decrypt(nonce, sealed, b"\x01" if last else b"\x00")
        except InvalidTag as exc:
            raise SealedBlobError("a sealed blob segment does not open with this key") from exc
        self._cached = (index, clear)
        return clear
