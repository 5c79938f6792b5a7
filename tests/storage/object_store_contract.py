"""The ObjectStore contract: every implementation passes these tests by providing the `store` fixture."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import zlib

import pytest

from outcrop.storage.objects import (
    MIN_PART_SIZE,
    BadDigest,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooSmall,
    InvalidBucketName,
    InvalidPart,
    InvalidPartOrder,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    ObjectAttributes,
    ObjectStore,
)


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def reference_listing(keys: list[str], prefix: str, delimiter: str) -> list[str]:
    """What a complete listing returns: keys and common prefixes, in order."""
    out: list[str] = []
    for key in sorted(keys, key=lambda k: k.encode()):
        if not key.startswith(prefix):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        item = key[: cut + len(delimiter)] if cut >= 0 else key
        if item not in out:
            out.append(item)
    return out


class ObjectStoreContract:
    """Subclass and provide a `store` fixture yielding a fresh, empty ObjectStore."""

    @pytest.fixture
    def bucket(self, store: ObjectStore) -> str:
        store.create_bucket("contract", "us-east-1")
        return "contract"

    def test_buckets(self, store: ObjectStore) -> None:
        created = store.create_bucket("alpha", "eu-west-1")
        assert (created.name, created.region) == ("alpha", "eu-west-1")
        store.create_bucket("beta", "us-east-1")
        assert [b.name for b in store.list_buckets()] == ["alpha", "beta"]
        assert store.get_bucket("alpha").region == "eu-west-1"
        with pytest.raises(BucketAlreadyOwnedByYou):
            store.create_bucket("alpha", "us-east-1")
        with pytest.raises(InvalidBucketName):
            store.create_bucket("Not_Valid", "us-east-1")
        store.put_object("beta", "k", b"x")
        with pytest.raises(BucketNotEmpty):
            store.delete_bucket("beta")
        store.delete_object("beta", "k")
        store.delete_bucket("beta")
        with pytest.raises(NoSuchBucket):
            store.get_bucket("beta")
        with pytest.raises(NoSuchBucket):
            store.put_object("beta", "k", b"x")

    def test_put_read_overwrite_delete(self, store: ObjectStore, bucket: str) -> None:
        attributes = ObjectAttributes(
            content_type="text/plain", metadata={"a": "1"}, headers={"CacheControl": "no"}
        )
        info = store.put_object(bucket, "dir/k", b"hello", attributes)
        assert (info.size, info.etag) == (5, f'"{hashlib.md5(b"hello").hexdigest()}"')
        head = store.head_object(bucket, "dir/k")
        assert head.attributes.content_type == "text/plain"
        assert dict(head.attributes.metadata) == {"a": "1"}
        assert dict(head.attributes.headers) == {"CacheControl": "no"}
        assert store.read_object(bucket, "dir/k") == b"hello"
        store.put_object(bucket, "dir/k", io.BytesIO(b"streamed bytes"))
        assert store.read_object(bucket, "dir/k") == b"streamed bytes"
        assert store.delete_object(bucket, "dir/k") is True
        assert store.delete_object(bucket, "dir/k") is False
        with pytest.raises(NoSuchKey):
            store.head_object(bucket, "dir/k")

    def test_an_open_reader_keeps_its_version(self, store: ObjectStore, bucket: str) -> None:
        store.put_object(bucket, "k", b"first version")
        info, handle = store.open_object(bucket, "k")
        with handle:
            store.put_object(bucket, "k", b"second")
            store.delete_object(bucket, "k")
            assert handle.read() == b"first version"
        assert info.size == len(b"first version")

    def test_checksums_are_verified_before_anything_is_stored(self, store: ObjectStore, bucket: str) -> None:
        good = store.put_object(bucket, "k", b"data", ObjectAttributes(checksums={"CRC32": crc32(b"data")}))
        assert good.attributes.checksums["CRC32"] == crc32(b"data")
        with pytest.raises(BadDigest):
            store.put_object(bucket, "k", b"other", ObjectAttributes(checksums={"CRC32": crc32(b"data")}))
        md5 = base64.b64encode(hashlib.md5(b"data").digest()).decode()
        with pytest.raises(BadDigest):
            store.put_object(bucket, "k", b"other", content_md5=md5)
        assert store.read_object(bucket, "k") == b"data"

    def test_copy(self, store: ObjectStore, bucket: str) -> None:
        store.put_object(bucket, "src", b"bytes", ObjectAttributes(content_type="a/b", metadata={"m": "1"}))
        kept = store.copy_object(bucket, "src", bucket, "kept", None)
        assert kept.attributes.content_type == "a/b" and kept.etag == store.head_object(bucket, "src").etag
        replaced = store.copy_object(bucket, "src", bucket, "replaced", ObjectAttributes(content_type="c/d"))
        assert replaced.attributes.content_type == "c/d" and dict(replaced.attributes.metadata) == {}
        store.put_object(bucket, "src", b"changed")
        assert store.read_object(bucket, "kept") == b"bytes"
        with pytest.raises(NoSuchKey):
            store.copy_object(bucket, "missing", bucket, "x", None)

    def test_tags(self, store: ObjectStore, bucket: str) -> None:
        store.put_object(bucket, "k", b"x", ObjectAttributes(tags={"a": "1"}))
        assert dict(store.set_tags(bucket, "k", {"b": "2"}).attributes.tags) == {"b": "2"}
        assert dict(store.head_object(bucket, "k").attributes.tags) == {"b": "2"}

    @pytest.mark.parametrize("seed", range(6))
    def test_listing_pages_through_exactly_the_reference(
        self, store: ObjectStore, bucket: str, seed: int
    ) -> None:
        rng = random.Random(seed)
        parts = ["a", "b", "b/", "c-d", "é", "z", "/", ""]
        keys = sorted(
            {"".join(rng.choice(parts) for _ in range(rng.randint(1, 5))) or "k" for _ in range(60)}
        )
        for key in keys:
            store.put_object(bucket, key, b"")
        for prefix in ("", "b", "b/", "a"):
            for delimiter in ("", "/", "b"):
                expected = reference_listing(keys, prefix, delimiter)
                for max_keys in (1, 3, 1000):
                    seen: list[str] = []
                    after = ""
                    while True:
                        page = store.list_objects(
                            bucket, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
                        )
                        items = [o.key for o in page.objects] + page.common_prefixes
                        assert len(items) <= max_keys
                        seen += sorted(items, key=lambda k: k.encode())
                        if not page.truncated:
                            break
                        assert page.next_marker is not None
                        after = page.next_marker
                    assert seen == expected, (prefix, delimiter, max_keys)

    def test_iter_objects(self, store: ObjectStore, bucket: str) -> None:
        for i in range(1005):
            store.put_object(bucket, f"docs/{i:05d}", b"")
        store.put_object(bucket, "other", b"")
        keys = [o.key for o in store.iter_objects(bucket, "docs/")]
        assert keys == [f"docs/{i:05d}" for i in range(1005)]

    def test_multipart(self, store: ObjectStore, bucket: str) -> None:
        big, tail = b"a" * MIN_PART_SIZE, b"tail"
        upload = store.create_upload(
            bucket, "mp", ObjectAttributes(content_type="x/y", checksum_algorithm="CRC32")
        )
        first = store.upload_part(bucket, "mp", upload.upload_id, 1, big, {"CRC32": crc32(big)})
        second = store.upload_part(bucket, "mp", upload.upload_id, 2, io.BytesIO(tail), {})
        assert second.checksums["CRC32"] == crc32(tail)  # computed for the upload's algorithm
        assert [p.number for p in store.list_parts(bucket, "mp", upload.upload_id)] == [1, 2]
        with pytest.raises(InvalidPartOrder):
            store.complete_upload(bucket, "mp", upload.upload_id, [(2, second.etag), (1, first.etag)])
        with pytest.raises(InvalidPart):
            store.complete_upload(bucket, "mp", upload.upload_id, [(1, second.etag)])
        info = store.complete_upload(
            bucket, "mp", upload.upload_id, [(1, first.etag), (2, second.etag.strip('"'))]
        )
        digests = hashlib.md5(big).digest() + hashlib.md5(tail).digest()
        assert info.etag == f'"{hashlib.md5(digests).hexdigest()}-2"' and info.parts_count == 2
        assert info.attributes.content_type == "x/y"
        assert info.attributes.checksums["CRC32"].endswith("-2")
        assert info.attributes.checksum_type == "COMPOSITE"
        assert store.read_object(bucket, "mp") == big + tail
        with pytest.raises(NoSuchUpload):
            store.list_parts(bucket, "mp", upload.upload_id)

    def test_full_object_checksum_of_a_multipart_upload(self, store: ObjectStore, bucket: str) -> None:
        attributes = ObjectAttributes(checksum_algorithm="CRC32", checksum_type="FULL_OBJECT")
        upload = store.create_upload(bucket, "full", attributes)
        part = store.upload_part(bucket, "full", upload.upload_id, 1, b"whole", {})
        info = store.complete_upload(bucket, "full", upload.upload_id, [(1, part.etag)])
        assert info.attributes.checksums == {"CRC32": crc32(b"whole")}

    def test_small_parts_and_abort(self, store: ObjectStore, bucket: str) -> None:
        upload = store.create_upload(bucket, "k")
        etags = [store.upload_part(bucket, "k", upload.upload_id, n, b"x", {}).etag for n in (1, 2)]
        with pytest.raises(EntityTooSmall):
            store.complete_upload(bucket, "k", upload.upload_id, list(zip((1, 2), etags, strict=True)))
        listed = store.list_uploads(bucket)
        assert [u.upload_id for u in listed.uploads] == [upload.upload_id]
        store.abort_upload(bucket, "k", upload.upload_id)
        assert store.list_uploads(bucket).uploads == []
        with pytest.raises(NoSuchUpload):
            store.upload_part(bucket, "k", upload.upload_id, 1, b"x", {})
        with pytest.raises(NoSuchKey):
            store.head_object(bucket, "k")

    def test_uploads_do_not_block_deleting_a_bucket(self, store: ObjectStore) -> None:
        store.create_bucket("with-upload", "us-east-1")
        upload = store.create_upload("with-upload", "k")
        store.upload_part("with-upload", "k", upload.upload_id, 1, b"x", {})
        store.delete_bucket("with-upload")
        with pytest.raises(NoSuchBucket):
            store.list_uploads("with-upload")

    def test_errors_name_what_is_missing(self, store: ObjectStore, bucket: str) -> None:
        with pytest.raises(NoSuchKey) as missing:
            store.head_object(bucket, "nope")
        assert missing.value.code == "NoSuchKey" and missing.value.details == {"Key": "nope"}
        with pytest.raises(NoSuchBucket) as no_bucket:
            store.head_object("no-bucket", "nope")
        assert no_bucket.value.details == {"BucketName": "no-bucket"}

    def test_a_requested_checksum_is_computed(self, store: ObjectStore, bucket: str) -> None:
        info = store.put_object(bucket, "k", b"data", ObjectAttributes(checksum_algorithm="CRC32"))
        assert dict(info.attributes.checksums) == {"CRC32": crc32(b"data")}
        assert info.attributes.checksum_type == "FULL_OBJECT"
