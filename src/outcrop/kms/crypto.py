"""The ciphertext formats of Outcrop's KMS, built on AES-256-GCM from `cryptography` (no primitive is ours).

Two layers, as in AWS KMS: key material is stored wrapped by the server's master key (the wrapping binds
the key id and version as authenticated data, so a wrapped row moved to another key does not unwrap), and a
ciphertext blob that Encrypt returns carries, in its clear header, the key id and the key version that
encrypted it, so Decrypt needs no KeyId. The header and the encryption context are authenticated data: a
changed header, a changed context or a wrong key all fail the GCM tag check.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"OKMS\x01"
KEY_ID_LENGTH = 36  # a key id is a UUID in its 36-character text form
NONCE_LENGTH = 12
TAG_LENGTH = 16
_HEADER = struct.Struct(f">{len(MAGIC)}s{KEY_ID_LENGTH}sI{NONCE_LENGTH}s")


class CiphertextError(Exception):
    """A blob that is not ours, was changed, or does not open with the key and context given."""


@dataclass(frozen=True)
class BlobHeader:
    key_id: str
    version: int
    nonce: bytes


def new_material() -> bytes:
    """A fresh 256-bit key from the operating system's random source."""
    return AESGCM.generate_key(bit_length=256)


def wrap(master: bytes, key_id: str, version: int, material: bytes) -> bytes:
    """Key material sealed under the master key: nonce + ciphertext + tag, bound to its key and version."""
    nonce = os.urandom(NONCE_LENGTH)
    return nonce + AESGCM(master).encrypt(nonce, material, _wrap_aad(key_id, version))


def unwrap(master: bytes, key_id: str, version: int, wrapped: bytes) -> bytes:
    try:
        return AESGCM(master).decrypt(
            wrapped[:NONCE_LENGTH], wrapped[NONCE_LENGTH:], _wrap_aad(key_id, version)
        )
    except InvalidTag as exc:
        raise CiphertextError("key material does not open with this master key") from exc


def encrypt(material: bytes, key_id: str, version: int, plaintext: bytes, context: dict[str, str]) -> bytes:
    nonce = os.urandom(NONCE_LENGTH)
    header = _HEADER.pack(MAGIC, key_id.encode("ascii"), version, nonce)
    return header + AESGCM(material).encrypt(nonce, plaintext, header + canonical_context(context))


def read_header(blob: bytes) -> BlobHeader:
    """The key id and version a blob names, without opening it."""
    if len(blob) < _HEADER.size + TAG_LENGTH or not blob.startswith(MAGIC):
        raise CiphertextError("not a ciphertext blob of this KMS")
    _, raw_id, version, nonce = _HEADER.unpack_from(blob)
    try:
        key_id = raw_id.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CiphertextError("the blob's key id is not text") from exc
    return BlobHeader(key_id, version, nonce)


def decrypt(material: bytes, blob: bytes, context: dict[str, str]) -> bytes:
    header = read_header(blob)
    head = blob[: _HEADER.size]
    try:
        return AESGCM(material).decrypt(header.nonce, blob[_HEADER.size :], head + canonical_context(context))
    except InvalidTag as exc:
        raise CiphertextError("the blob does not open with this key and encryption context") from exc


def canonical_context(context: dict[str, str]) -> bytes:
    """One byte string per context, whatever order its pairs came in (AWS ignores the order too)."""
    return json.dumps(sorted(context.items()), separators=(",", ":"), ensure_ascii=False).encode()


def _wrap_aad(key_id: str, version: int) -> bytes:
    return f"outcrop-kms-material:{key_id}:{version}".encode()
