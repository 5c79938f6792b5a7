"""S3's checksum arithmetic, checked against known values."""

from __future__ import annotations

import base64
import hashlib
import zlib

from outcrop.storage import checksums


def test_crc32c_of_the_standard_check_string() -> None:
    assert checksums.composite("CRC32C", [base64.b64encode(b"123456789").decode()]) == (
        base64.b64encode((0xE3069283).to_bytes(4, "big")).decode() + "-1"
    )


def test_digester_and_composites() -> None:
    digester = checksums.Digester(["CRC32", "SHA256", "CRC64NVME"])
    digester.update(b"hello ")
    digester.update(b"world")
    assert digester.size == 11
    assert digester.md5.hexdigest() == hashlib.md5(b"hello world").hexdigest()
    computed = digester.checksums()
    assert computed["CRC32"] == base64.b64encode(zlib.crc32(b"hello world").to_bytes(4, "big")).decode()
    assert computed["SHA256"] == base64.b64encode(hashlib.sha256(b"hello world").digest()).decode()
    assert "CRC64NVME" not in computed and not checksums.computable("CRC64NVME")
    parts = [checksums.encode(zlib.crc32(p).to_bytes(4, "big")) for p in (b"a", b"b")]
    joined = zlib.crc32(b"".join(base64.b64decode(p) for p in parts)).to_bytes(4, "big")
    assert checksums.composite("CRC32", parts) == f"{checksums.encode(joined)}-2"


def test_multipart_etag() -> None:
    etags = [f'"{hashlib.md5(p).hexdigest()}"' for p in (b"one", b"two")]
    expected = hashlib.md5(hashlib.md5(b"one").digest() + hashlib.md5(b"two").digest()).hexdigest()
    assert checksums.multipart_etag(etags) == f'"{expected}-2"'
