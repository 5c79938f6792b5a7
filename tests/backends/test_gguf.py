from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from outcrop.backends import gguf
from outcrop.backends.base import BackendUnavailable
from outcrop.backends.gguf import PartedModel, assemble_gguf, ensure_verified

from .conftest import REAL_MODELS, model_dir


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Three fake part packages whose data concatenates to a GGUF-looking file."""
    chunks = {"demo-part1": b"GGUF" + b"a" * 10, "demo-part2": b"b" * 7, "demo-part3": b"c" * 3}
    for name, data in chunks.items():
        (tmp_path / "site" / name / "data").mkdir(parents=True)
        (tmp_path / "site" / name / "data" / f"part0{name[-1]}.bin").write_bytes(data)

    def fake_package_files(distribution: str, directory: str, extension: str) -> list[Path]:
        return sorted((tmp_path / "site" / distribution / directory).glob("*" + extension))

    monkeypatch.setattr(gguf, "package_files", fake_package_files)
    return b"".join(chunks.values())


def test_parts_are_concatenated_in_order_and_verified(tmp_path: Path, parts: bytes) -> None:
    digest = hashlib.sha256(parts).hexdigest()
    target = tmp_path / "models" / "demo.gguf"
    assert assemble_gguf(PartedModel("demo-part", 3), target, digest) == target
    assert target.read_bytes() == parts
    assert (tmp_path / "models" / "demo.gguf.verified").read_text().startswith(digest)
    assert [path.name for path in (tmp_path / "models").iterdir() if path.suffix == ".tmp"] == []


def test_wrong_digest_leaves_no_file_behind(tmp_path: Path, parts: bytes) -> None:
    target = tmp_path / "models" / "demo.gguf"
    with pytest.raises(BackendUnavailable, match="SHA-256"):
        assemble_gguf(PartedModel("demo-part", 3), target, "0" * 64)
    assert list((tmp_path / "models").iterdir()) == []


def test_sidecar_skips_rehashing_until_the_file_changes(
    tmp_path: Path, parts: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "demo.gguf"
    digest = hashlib.sha256(parts).hexdigest()
    assemble_gguf(PartedModel("demo-part", 3), target, digest)
    monkeypatch.setattr(gguf, "sha256_file", lambda path: pytest.fail("should not rehash"))
    assert ensure_verified(target, digest) == digest
    target.write_bytes(b"GGUF changed")
    monkeypatch.undo()
    with pytest.raises(BackendUnavailable, match="catalog expects"):
        ensure_verified(target, digest)


def test_missing_part_package_says_how_to_install() -> None:
    with pytest.raises(BackendUnavailable, match="pip install"):
        assemble_gguf(PartedModel("no-such-model-part", 2), Path("/nonexistent/x.gguf"), None)


@pytest.mark.real
def test_real_model_file_matches_its_recorded_digest() -> None:
    entry = REAL_MODELS["qwen2.5-coder-0.5b"]
    path = assemble_gguf(
        PartedModel(entry["package_prefix"], entry["package_parts"]), model_dir() / entry["file"], None
    )
    assert ensure_verified(path, entry["sha256"]) == entry["sha256"]
