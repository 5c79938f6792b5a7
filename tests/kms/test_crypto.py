"""The keyring's formats and rules, without a server: blobs bind their context, material stays wrapped."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from outcrop.kms import crypto
from outcrop.kms.keys import DisabledException, InvalidCiphertextException, Keyring, NotFoundException
from outcrop.kms.master import MasterKeyError, load_master_key
from outcrop.kms.store import KeyStore


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring(KeyStore(tmp_path / "keys.sqlite3"), load_master_key("", tmp_path / "master.key"))


def test_a_blob_names_its_key_and_version_and_opens_only_with_its_context() -> None:
    material = crypto.new_material()
    blob = crypto.encrypt(material, "0" * 36, 3, b"secret", {"a": "1", "b": "2"})
    header = crypto.read_header(blob)
    assert (header.key_id, header.version) == ("0" * 36, 3)
    assert crypto.decrypt(material, blob, {"b": "2", "a": "1"}) == b"secret"
    with pytest.raises(crypto.CiphertextError):
        crypto.decrypt(material, blob, {"a": "1"})
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(crypto.CiphertextError):
        crypto.decrypt(material, tampered, {"a": "1", "b": "2"})


def test_the_master_key_file_is_created_owner_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "kms" / "master.key"
    first = load_master_key("", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key("", path) == first and len(first) == 32
    os.chmod(path, 0o644)
    with pytest.raises(MasterKeyError, match="readable by others"):
        load_master_key("", path)
    with pytest.raises(MasterKeyError):
        load_master_key("bm90LTMyLWJ5dGVz", path)


def test_key_material_is_stored_only_wrapped(keyring: Keyring, tmp_path: Path) -> None:
    key = keyring.create_key("111122223333", "us-east-1")
    wrapped = keyring.store.wrapped(key.key_id, 1)
    assert wrapped is not None
    material = crypto.unwrap(load_master_key("", tmp_path / "master.key"), key.key_id, 1, wrapped)
    keyring.close()
    for path in tmp_path.iterdir():
        assert material not in path.read_bytes()
    with pytest.raises(crypto.CiphertextError):
        crypto.unwrap(crypto.new_material(), key.key_id, 1, wrapped)


def test_rotation_keeps_old_versions_and_deletion_happens_when_its_date_passes(tmp_path: Path) -> None:
    now = [1_000_000.0]
    keyring = Keyring(KeyStore(tmp_path / "k.sqlite3"), crypto.new_material(), clock=lambda: now[0])
    key = keyring.create_key("111122223333", "us-east-1")
    old = keyring.encrypt(key, b"v1", {})
    keyring.set_rotation(key, True, 90)
    now[0] += 91 * 86400
    rotated = keyring.resolve("111122223333", "us-east-1", key.key_id)
    assert rotated.current_version == 2
    assert crypto.read_header(keyring.encrypt(rotated, b"v2", {})).version == 2
    assert keyring.decrypt("111122223333", "us-east-1", old, {})[0] == b"v1"
    keyring.set_enabled(rotated, False)
    with pytest.raises(DisabledException):
        keyring.decrypt("111122223333", "us-east-1", old, {})
    keyring.schedule_deletion(rotated, 7)
    now[0] += 8 * 86400
    with pytest.raises(NotFoundException):
        keyring.resolve("111122223333", "us-east-1", key.key_id)
    with pytest.raises(InvalidCiphertextException):
        keyring.decrypt("111122223333", "us-east-1", old, {})
