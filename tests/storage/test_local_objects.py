"""The embedded object store: the ObjectStore contract, plus durability on local files."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from outcrop.storage import blobs
from outcrop.storage.localobjects import LocalObjectStore
from outcrop.storage.objects import ObjectAttributes
from tests.storage.object_store_contract import ObjectStoreContract


class TestLocalObjectStore(ObjectStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[LocalObjectStore]:
        store = LocalObjectStore(tmp_path / "s3")
        yield store
        store.close()


def blob_files(root: Path) -> list[Path]:
    return [p for p in (root / "blobs").rglob("*") if p.is_file()]


def test_everything_survives_reopening(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.create_bucket("keep", "us-west-2")
    store.put_object("keep", "a", b"alpha", ObjectAttributes(metadata={"x": "y"}))
    upload = store.create_upload("keep", "b")
    part = store.upload_part("keep", "b", upload.upload_id, 1, b"beta", {})
    store.close()
    again = LocalObjectStore(tmp_path)
    assert again.get_bucket("keep").region == "us-west-2"
    assert again.read_object("keep", "a") == b"alpha"
    assert dict(again.head_object("keep", "a").attributes.metadata) == {"x": "y"}
    again.complete_upload("keep", "b", upload.upload_id, [(1, part.etag)])
    assert again.read_object("keep", "b") == b"beta"
    again.close()


def test_replaced_and_deleted_bytes_leave_no_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.create_bucket("bkt", "us-east-1")
    for body in (b"1", b"2", b"3"):
        store.put_object("bkt", "k", body)
    store.copy_object("bkt", "k", "bkt", "copy", None)
    assert len(blob_files(tmp_path)) == 2
    store.delete_object("bkt", "k")
    store.delete_object("bkt", "copy")
    upload = store.create_upload("bkt", "mp")
    store.upload_part("bkt", "mp", upload.upload_id, 1, b"part", {})
    store.upload_part("bkt", "mp", upload.upload_id, 1, b"part again", {})
    store.abort_upload("bkt", "mp", upload.upload_id)
    assert blob_files(tmp_path) == []
    store.close()


def test_a_crash_mid_write_leaves_the_old_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalObjectStore(tmp_path)
    store.create_bucket("bkt", "us-east-1")
    store.put_object("bkt", "k", b"old")

    def power_cut(src: object, dst: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(blobs.os, "replace", power_cut)
    with pytest.raises(OSError, match="power cut"):
        store.put_object("bkt", "k", b"new")
    monkeypatch.undo()
    assert store.read_object("bkt", "k") == b"old"
    assert list((tmp_path / "tmp").iterdir()) == []
    store.close()


def test_an_unclean_stop_is_cleaned_up_at_the_next_start(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.create_bucket("bkt", "us-east-1")
    store.put_object("bkt", "k", b"kept")
    # what a crash can leave: a half-written temp file, and a renamed blob whose commit never happened
    (tmp_path / "tmp" / "partial").write_bytes(b"half")
    orphan = tmp_path / "blobs" / "ff" / "ff-orphan"
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"never committed")
    del store  # no close(): the process died
    again = LocalObjectStore(tmp_path)
    assert not orphan.exists()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert again.read_object("bkt", "k") == b"kept"
    again.close()


def test_concurrent_writers_and_readers(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    store.create_bucket("bkt", "us-east-1")
    store.put_object("bkt", "shared", b"0" * 1000)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                store.put_object("bkt", f"own-{n}-{i}", os.urandom(100))
                store.put_object("bkt", "shared", str(n).encode() * 1000)
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(100):
                data = store.read_object("bkt", "shared")
                assert len(data) == 1000 and len(set(data)) == 1  # always one whole version
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(list(store.iter_objects("bkt", "own-"))) == 80
    assert len(blob_files(tmp_path)) == 81
    store.close()
