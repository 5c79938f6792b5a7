"""Object checksums as S3 computes them: MD5 ETags, the flexible checksums (CRC32, SHA1, SHA256...), and
the composite forms of multipart uploads, all as base64 of the big-endian digest.

CRC32, SHA1 and SHA256 are computed over every write so a client's checksum is verified before the write
commits. CRC32C and CRC64NVME over whole objects would need a native library; those values are stored as
the client sent them (botocore without awscrt does not send them either).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterable, Sequence
from typing import Protocol


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes, /) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


class _Crc32c:
    """Table-driven CRC32C: only used over short inputs (the part checksums of a composite checksum)."""

    def __init__(self) -> None:
        self.value = 0xFFFFFFFF

    def update(self, data: bytes, /) -> None:
        crc = self.value
        for byte in data:
            crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        self.value = crc

    def digest(self) -> bytes:
        return (self.value ^ 0xFFFFFFFF).to_bytes(4, "big")


def _hash(algorithm: str, *, small: bool = False) -> _Hash | None:
    if algorithm == "CRC32":
        return _Crc32()
    if algorithm == "SHA1":
        return hashlib.sha1()
    if algorithm == "SHA256":
        return hashlib.sha256()
    if algorithm == "CRC32C" and small:
        return _Crc32c()
    return None


class Digester:
    """Hashes a stream once for its ETag (MD5) and for each checksum it can compute."""

    def __init__(self, algorithms: Iterable[str] = ()) -> None:
        self.md5 = hashlib.md5()
        self.size = 0
        self._hashes = {name: h for name in algorithms if (h := _hash(name)) is not None}

    def update(self, data: bytes) -> None:
        self.md5.update(data)
        for h in self._hashes.values():
            h.update(data)
        self.size += len(data)

    def checksums(self) -> dict[str, str]:
        """Base64 checksum of each computed algorithm."""
        return {name: encode(h.digest()) for name, h in self._hashes.items()}


def computable(algorithm: str) -> bool:
    return _hash(algorithm) is not None


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def composite(algorithm: str, part_checksums: Sequence[str]) -> str | None:
    """S3's COMPOSITE checksum: the checksum of the parts' decoded checksums, then `-<part count>`."""
    h = _hash(algorithm, small=True)
    if h is None:
        return None
    for value in part_checksums:
        h.update(base64.b64decode(value))
    return f"{encode(h.digest())}-{len(part_checksums)}"


def multipart_etag(part_etags: Sequence[str]) -> str:
    """MD5 of the concatenated binary MD5s of the parts, then `-<part count>`, quoted."""
    joined = b"".join(bytes.fromhex(etag.strip('"')) for etag in part_etags)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(part_etags)}"'
