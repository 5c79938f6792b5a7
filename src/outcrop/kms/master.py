"""The server's master key, which wraps every KMS key's material.

Where it comes from, in order: the `kms_master_key` setting (base64 of 32 bytes, from the config file or
OUTCROP_KMS_MASTER_KEY); otherwise a key file `kms/master.key` in the data dir, generated on first start
with owner-only (0600) permissions. The OS keyring is not used. A key file beside the data it protects
guards against a copied database, not against someone who can read the whole data dir: set the key in
the config (kept elsewhere) for that.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32


class MasterKeyError(ValueError):
    """The configured master key is unusable, or the key file is readable by others."""


def load_master_key(configured: str, key_file: Path) -> bytes:
    """The 32-byte master key: the configured one, or the data dir's key file (created if absent)."""
    if configured:
        try:
            key = base64.b64decode(configured, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MasterKeyError("kms_master_key must be base64 of 32 bytes") from exc
        if len(key) != KEY_BYTES:
            raise MasterKeyError(f"kms_master_key must be base64 of 32 bytes, not {len(key)}")
        return key
    key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(key_file)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)))
        handle.flush()
        os.fsync(handle.fileno())
    return _read_key_file(key_file)


def _read_key_file(key_file: Path) -> bytes:
    mode = stat.S_IMODE(key_file.stat().st_mode)
    if mode & 0o077:
        raise MasterKeyError(f"{key_file} is readable by others (mode {mode:o}); chmod 600 it")
    key = base64.b64decode(key_file.read_bytes().strip())
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{key_file} does not hold base64 of 32 bytes")
    return key
