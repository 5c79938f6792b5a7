"""The embedded object store: object bytes as files under the data dir, their descriptions in SQLite.

A write goes to a temporary file, is fsynced and renamed into `blobs/` under a fresh name, and only then
does the SQLite commit make it the object; the blob it replaces is deleted after the commit. A crash
therefore leaves either the old object or the new one, never half of one. Blobs are never changed in
place, so a reader holding one open keeps reading the version it opened. Blobs orphaned by a crash
between rename and commit are swept at the next start.

Objects stored encrypted (S3's SSE) are sealed blobs (see `blobs`) under a data key per object that a
DataKeys service (KMS) makes and keeps sealed in the object's attributes; parts of a multipart upload stay
in the clear until the upload completes and its object is sealed.

Multipart uploads are in `localuploads` (a completed upload is committed here, like any other write);
the schema and the steps both sides take on rows and blobs are in `objectrecords`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from outcrop.storage.blobs import BlobFiles
from outcrop.storage.checksums import Digester
from outcrop.storage.localuploads import LocalUploads, drop_upload, finish_upload
from outcrop.storage.objectrecords import (
    MIGRATIONS,
    attributes_json,
    attributes_of,
    collect_garbage,
    now,
    require_bucket,
    time_of,
    write_checked_blob,
)
from outcrop.storage.objects import (
    Bucket,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    DataKeys,
    InvalidArgument,
    Listing,
    NoSuchBucket,
    NoSuchKey,
    ObjectAttributes,
    ObjectInfo,
    Part,
    Upload,
    UploadListing,
    after_prefix,
    check_bucket_name,
    check_key,
)
from outcrop.storage.sqlite import Database

_BATCH = 1000
_ENCRYPTION_MIGRATION = (
    "0002_bucket_encryption",
    "CREATE TABLE bucket_encryption (bucket TEXT PRIMARY KEY, configuration TEXT NOT NULL)",
)


class LocalObjectStore:
    """ObjectStore on local files and SQLite (WAL), rooted at one folder of the data dir."""

    def __init__(self, root: Path, data_keys: DataKeys | None = None) -> None:
        self.root = root
        self._files = BlobFiles(root)
        self._data_keys = data_keys
        self._db = Database(root / "objects.sqlite3", [*MIGRATIONS, _ENCRYPTION_MIGRATION])
        self._uploads = LocalUploads(self._db, self._files)
        self._clean_marker = root / "closed-cleanly"
        if not self._clean_marker.exists():
            self._sweep_orphans()
        self._clean_marker.unlink(missing_ok=True)
        collect_garbage(self._db, self._files)
        self._closed = threading.Event()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._db.close()
        self._clean_marker.touch()

    # -- buckets --------------------------------------------------------------------------------------------

    def create_bucket(self, name: str, region: str) -> Bucket:
        check_bucket_name(name)
        created = now()
        with self._db.transaction() as tx:
            if tx.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise BucketAlreadyOwnedByYou(
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    BucketName=name,
                )
            tx.execute("INSERT INTO buckets VALUES (?, ?, ?)", (name, region, created.timestamp()))
        return Bucket(name, region, created)

    def get_bucket(self, name: str) -> Bucket:
        row = self._db.connection().execute("SELECT * FROM buckets WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NoSuchBucket("The specified bucket does not exist", BucketName=name)
        return Bucket(row["name"], row["region"], time_of(row["created"]))

    def list_buckets(self) -> list[Bucket]:
        rows = self._db.connection().execute("SELECT * FROM buckets ORDER BY name").fetchall()
        return [Bucket(r["name"], r["region"], time_of(r["created"])) for r in rows]

    def delete_bucket(self, name: str) -> None:
        with self._db.transaction() as tx:
            require_bucket(tx, name)
            if tx.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise BucketNotEmpty("The bucket you tried to delete is not empty", BucketName=name)
            uploads = [r[0] for r in tx.execute("SELECT upload_id FROM uploads WHERE bucket = ?", (name,))]
            for upload_id in uploads:
                drop_upload(tx, upload_id)
            tx.execute("DELETE FROM bucket_encryption WHERE bucket = ?", (name,))
            tx.execute("DELETE FROM buckets WHERE name = ?", (name,))
        collect_garbage(self._db, self._files)

    def put_bucket_encryption(self, bucket: str, configuration: Mapping[str, object] | None) -> None:
        with self._db.transaction() as tx:
            require_bucket(tx, bucket)
            tx.execute("DELETE FROM bucket_encryption WHERE bucket = ?", (bucket,))
            if configuration is not None:
                tx.execute("INSERT INTO bucket_encryption VALUES (?, ?)", (bucket, json.dumps(configuration)))

    def get_bucket_encryption(self, bucket: str) -> Mapping[str, object] | None:
        with self._db.read() as conn:
            require_bucket(conn, bucket)
            row = conn.execute("SELECT configuration FROM bucket_encryption WHERE bucket = ?", (bucket,))
            found = row.fetchone()
        return dict(json.loads(found[0])) if found else None

    # -- objects --------------------------------------------------------------------------------------------

    def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes | BinaryIO,
        attributes: ObjectAttributes | None = None,
        *,
        content_md5: str | None = None,
    ) -> ObjectInfo:
        check_key(key)
        region = self.get_bucket(bucket).region
        attributes = attributes or ObjectAttributes()
        files = self._files
        encryption = self._encryption_for(bucket, attributes.encryption)
        if encryption:
            data_key, fields = self._keys().new_data_key(encryption, region, _context(bucket, key))
            files, attributes = files.sealing(data_key), replace(attributes, encryption=fields)
        algorithm = attributes.checksum_algorithm  # asked for without a value: S3 computes it
        blob, digester = write_checked_blob(
            files,
            data,
            [*attributes.checksums, *([algorithm] if algorithm else [])],
            attributes.checksums,
            content_md5,
        )
        checks = {**attributes.checksums, **digester.checksums()}
        attributes = replace(attributes, checksums=checks, checksum_type="FULL_OBJECT" if checks else None)
        info = ObjectInfo(bucket, key, digester.size, f'"{digester.md5.hexdigest()}"', now(), attributes)
        return self._commit_object(info, blob)

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        return self._object_row(bucket, key)[0]

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        for _ in range(5):
            info, blob = self._object_row(bucket, key)
            data_key = self._data_key(info)
            try:
                return info, self._files.open(blob, data_key)
            except FileNotFoundError:
                continue  # replaced between the lookup and the open: look again
        raise NoSuchKey("The specified key does not exist.", Key=key)

    def read_object(self, bucket: str, key: str) -> bytes:
        _, handle = self.open_object(bucket, key)
        with handle:
            return handle.read()

    def delete_object(self, bucket: str, key: str) -> bool:
        with self._db.transaction() as tx:
            require_bucket(tx, bucket)
            row = tx.execute(
                "SELECT blob FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            if row is None:
                return False
            tx.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            tx.execute("INSERT OR IGNORE INTO garbage VALUES (?)", (row["blob"],))
        collect_garbage(self._db, self._files)
        return True

    def copy_object(
        self,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        attributes: ObjectAttributes | None,
        *,
        encryption: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        check_key(key)
        self.get_bucket(bucket)
        target = self._encryption_for(bucket, encryption or {})
        for _ in range(5):
            source, source_blob = self._object_row(source_bucket, source_key)
            if target or source.attributes.encryption:  # sealed bytes are bound to their object: re-seal
                return self._copy_through(source_bucket, source_key, bucket, key, attributes, target)
            try:
                blob = self._files.duplicate(source_blob)  # blobs never change: share the bytes
            except FileNotFoundError:
                continue  # replaced between the lookup and the link: look again
            kept = source.attributes if attributes is None else attributes
            kept = replace(
                kept, checksums=source.attributes.checksums, checksum_type=source.attributes.checksum_type
            )
            info = replace(source, bucket=bucket, key=key, last_modified=now(), attributes=kept)
            return self._commit_object(info, blob)
        raise NoSuchKey("The specified key does not exist.", Key=source_key)

    def set_tags(self, bucket: str, key: str, tags: Mapping[str, str]) -> ObjectInfo:
        with self._db.transaction() as tx:
            require_bucket(tx, bucket)
            row = tx.execute("SELECT * FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
            if row is None:
                raise NoSuchKey("The specified key does not exist.", Key=key)
            attributes = replace(attributes_of(row["attributes"]), tags=dict(tags))
            tx.execute(
                "UPDATE objects SET attributes = ? WHERE bucket = ? AND key = ?",
                (attributes_json(attributes), bucket, key),
            )
        return self._info(row, attributes)

    def list_objects(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000
    ) -> Listing:
        self.get_bucket(bucket)
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        if max_keys <= 0:
            return Listing(objects, prefixes, False, None)
        position, inclusive = after, False
        if delimiter and after.startswith(prefix) and delimiter in after[len(prefix) :]:
            # a marker inside a rolled-up prefix resumes after the whole prefix, not inside it
            rolled = prefix + after[len(prefix) :].split(delimiter, 1)[0] + delimiter
            position, inclusive = after_prefix(rolled), True
        if position < prefix:
            position, inclusive = prefix, True
        conn = self._db.connection()
        last: str | None = None
        while True:
            op = ">=" if inclusive else ">"
            rows = conn.execute(
                f"SELECT * FROM objects WHERE bucket = ? AND key {op} ? ORDER BY key LIMIT ?",
                (bucket, position, _BATCH),
            ).fetchall()
            if not rows:
                return Listing(objects, prefixes, False, last)
            for row in rows:
                key: str = row["key"]
                if not key.startswith(prefix):
                    return Listing(objects, prefixes, False, last)
                if len(objects) + len(prefixes) >= max_keys:
                    return Listing(objects, prefixes, True, last)
                cut = key.find(delimiter, len(prefix)) if delimiter else -1
                if cut >= 0:
                    rolled = key[: cut + len(delimiter)]
                    prefixes.append(rolled)
                    last = rolled
                    position, inclusive = after_prefix(rolled), True
                    break
                objects.append(self._info(row))
                last = key
                position, inclusive = key, False

    def iter_objects(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        after = ""
        while True:
            page = self.list_objects(bucket, prefix=prefix, after=after)
            yield from page.objects
            if not page.truncated or page.next_marker is None:
                return
            after = page.next_marker

    # -- multipart uploads: LocalUploads does the work; completing commits here, like any object --------

    def create_upload(self, bucket: str, key: str, attributes: ObjectAttributes | None = None) -> Upload:
        return self._uploads.create_upload(bucket, key, attributes)

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        return self._uploads.get_upload(bucket, key, upload_id)

    def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        data: bytes | BinaryIO,
        checksums: Mapping[str, str],
        *,
        content_md5: str | None = None,
    ) -> Part:
        return self._uploads.upload_part(
            bucket, key, upload_id, number, data, checksums, content_md5=content_md5
        )

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[Part]:
        return self._uploads.list_parts(bucket, key, upload_id)

    def complete_upload(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        info, blob = self._uploads.assemble(bucket, key, upload_id, parts)
        encryption = self._encryption_for(bucket, info.attributes.encryption)
        if encryption:
            try:
                info, blob = self._seal_assembled(info, blob, encryption)
            except BaseException:
                self._files.delete(blob)
                raise
        return self._commit_object(info, blob, finishing=upload_id)

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self._uploads.abort_upload(bucket, key, upload_id)

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadListing:
        return self._uploads.list_uploads(
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )

    # -- encryption at rest ---------------------------------------------------------------------------------

    def _encryption_for(self, bucket: str, requested: Mapping[str, str]) -> dict[str, str]:
        """The encryption an object written to `bucket` gets: the request's, else the bucket default's."""
        if requested.get("ServerSideEncryption"):
            return {k: v for k, v in requested.items() if k != "DataKey"}
        configuration = self.get_bucket_encryption(bucket)
        if not configuration:
            return {}
        rule = configuration["Rules"][0]  # type: ignore[index]
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        found = {"ServerSideEncryption": default["SSEAlgorithm"]}
        if default.get("KMSMasterKeyID"):
            found["SSEKMSKeyId"] = default["KMSMasterKeyID"]
        if rule.get("BucketKeyEnabled") is not None:
            found["BucketKeyEnabled"] = str(bool(rule["BucketKeyEnabled"])).lower()
        return found

    def _keys(self) -> DataKeys:
        if self._data_keys is None:
            raise InvalidArgument("This object store has no key service: it cannot store objects encrypted.")
        return self._data_keys

    def _data_key(self, info: ObjectInfo) -> bytes | None:
        if not info.attributes.encryption.get("DataKey"):
            return None
        region = self.get_bucket(info.bucket).region
        return self._keys().open_data_key(info.attributes.encryption, region, _context(info.bucket, info.key))

    def _copy_through(
        self,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        attributes: ObjectAttributes | None,
        encryption: Mapping[str, str],
    ) -> ObjectInfo:
        """A copy that reads the clear bytes and writes them anew, sealed as the target asks (or not)."""
        source, handle = self.open_object(source_bucket, source_key)
        kept = source.attributes if attributes is None else attributes
        kept = replace(
            kept,
            checksums=source.attributes.checksums,
            checksum_type=source.attributes.checksum_type,
            checksum_algorithm=None,
            encryption=dict(encryption),
        )
        with handle:
            return self.put_object(bucket, key, handle, kept)

    def _seal_assembled(
        self, info: ObjectInfo, blob: str, encryption: dict[str, str]
    ) -> tuple[ObjectInfo, str]:
        """A completed multipart upload's object, re-written sealed; its clear blob is deleted."""
        region = self.get_bucket(info.bucket).region
        data_key, fields = self._keys().new_data_key(encryption, region, _context(info.bucket, info.key))
        with self._files.open(blob) as clear:
            sealed = self._files.sealing(data_key).write_data(clear, Digester())
        self._files.delete(blob)
        return replace(info, attributes=replace(info.attributes, encryption=fields)), sealed

    # -- internals ------------------------------------------------------------------------------------------

    def _object_row(self, bucket: str, key: str) -> tuple[ObjectInfo, str]:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
            if row is None:
                require_bucket(conn, bucket)
                raise NoSuchKey("The specified key does not exist.", Key=key)
        return self._info(row), row["blob"]

    @staticmethod
    def _info(row: sqlite3.Row, attributes: ObjectAttributes | None = None) -> ObjectInfo:
        return ObjectInfo(
            row["bucket"],
            row["key"],
            row["size"],
            row["etag"],
            time_of(row["modified"]),
            attributes or attributes_of(row["attributes"]),
            row["parts_count"],
        )

    def _commit_object(self, info: ObjectInfo, blob: str, *, finishing: str | None = None) -> ObjectInfo:
        """Make `blob` the object `info` describes; with `finishing`, also retire that multipart upload."""
        try:
            with self._db.transaction() as tx:
                require_bucket(tx, info.bucket)
                if finishing is not None:
                    finish_upload(tx, finishing)
                old = tx.execute(
                    "SELECT blob FROM objects WHERE bucket = ? AND key = ?", (info.bucket, info.key)
                ).fetchone()
                if old is not None:
                    tx.execute("INSERT OR IGNORE INTO garbage VALUES (?)", (old["blob"],))
                tx.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        info.bucket,
                        info.key,
                        blob,
                        info.size,
                        info.etag,
                        info.last_modified.timestamp(),
                        info.parts_count,
                        attributes_json(info.attributes),
                    ),
                )
        except BaseException:
            self._files.delete(blob)
            raise
        collect_garbage(self._db, self._files)
        return info

    def _sweep_orphans(self) -> None:
        """After an unclean stop: delete blob files that no object or part refers to."""
        conn = self._db.connection()
        known = {r[0] for r in conn.execute("SELECT blob FROM objects UNION SELECT blob FROM parts")}
        for name in list(self._files.names()):
            if name not in known:
                self._files.delete(name)


def _context(bucket: str, key: str) -> dict[str, str]:
    """The encryption context S3 gives KMS for an object's data key: the object's ARN."""
    return {"aws:s3:arn": f"arn:aws:s3:::{bucket}/{key}"}
