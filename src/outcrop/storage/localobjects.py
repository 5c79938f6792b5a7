"""The embedded object store: object bytes as files under the data dir, their descriptions in SQLite.

A write goes to a temporary file, is fsynced and renamed into `blobs/` under a fresh name, and only then
does the SQLite commit make it the object; the blob it replaces is deleted after the commit. A crash
therefore leaves either the old object or the new one, never half of one. Blobs are never changed in
place, so a reader holding one open keeps reading the version it opened. Blobs orphaned by a crash
between rename and commit are swept at the next start.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from outcrop.storage import checksums
from outcrop.storage.blobs import BlobFiles, copy_into
from outcrop.storage.objects import (
    MAX_PART_NUMBER,
    MIN_PART_SIZE,
    BadDigest,
    Bucket,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    Listing,
    MalformedXML,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    ObjectAttributes,
    ObjectInfo,
    Part,
    Upload,
    UploadListing,
    after_prefix,
    check_bucket_name,
    check_key,
)
from outcrop.storage.sqlite import Database, Migration

_BATCH = 1000

MIGRATIONS: list[Migration] = [
    (
        "0001_objects",
        """
        CREATE TABLE buckets (name TEXT PRIMARY KEY, region TEXT NOT NULL, created REAL NOT NULL);
        CREATE TABLE objects (
            bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
            etag TEXT NOT NULL, modified REAL NOT NULL, parts_count INTEGER, attributes TEXT NOT NULL,
            PRIMARY KEY (bucket, key)
        ) WITHOUT ROWID;
        CREATE TABLE uploads (
            upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, initiated REAL NOT NULL,
            attributes TEXT NOT NULL
        );
        CREATE INDEX uploads_by_key ON uploads (bucket, key, initiated);
        CREATE TABLE parts (
            upload_id TEXT NOT NULL, number INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
            etag TEXT NOT NULL, modified REAL NOT NULL, checksums TEXT NOT NULL,
            PRIMARY KEY (upload_id, number)
        ) WITHOUT ROWID;
        CREATE TABLE garbage (blob TEXT PRIMARY KEY)
        """,
    ),
]


def _now() -> datetime:
    return datetime.now(UTC)


def _time(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _attributes_json(attributes: ObjectAttributes) -> str:
    return json.dumps(asdict(attributes), separators=(",", ":"))


def _attributes(text: str) -> ObjectAttributes:
    return ObjectAttributes(**json.loads(text))


class LocalObjectStore:
    """ObjectStore on local files and SQLite (WAL), rooted at one folder of the data dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files = BlobFiles(root)
        self._db = Database(root / "objects.sqlite3", MIGRATIONS)
        self._clean_marker = root / "closed-cleanly"
        if not self._clean_marker.exists():
            self._sweep_orphans()
        self._clean_marker.unlink(missing_ok=True)
        self._collect_garbage()
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
        created = _now()
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
        return Bucket(row["name"], row["region"], _time(row["created"]))

    def list_buckets(self) -> list[Bucket]:
        rows = self._db.connection().execute("SELECT * FROM buckets ORDER BY name").fetchall()
        return [Bucket(r["name"], r["region"], _time(r["created"])) for r in rows]

    def delete_bucket(self, name: str) -> None:
        with self._db.transaction() as tx:
            self._require_bucket(tx, name)
            if tx.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise BucketNotEmpty("The bucket you tried to delete is not empty", BucketName=name)
            uploads = [r[0] for r in tx.execute("SELECT upload_id FROM uploads WHERE bucket = ?", (name,))]
            for upload_id in uploads:
                self._drop_upload(tx, upload_id)
            tx.execute("DELETE FROM buckets WHERE name = ?", (name,))
        self._collect_garbage()

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
        self.get_bucket(bucket)
        attributes = attributes or ObjectAttributes()
        algorithm = attributes.checksum_algorithm  # asked for without a value: S3 computes it
        blob, digester = self._write_blob(data, [*attributes.checksums, *([algorithm] if algorithm else [])])
        try:
            self._verify(digester, attributes.checksums, content_md5)
        except BadDigest:
            self._files.delete(blob)
            raise
        checks = {**attributes.checksums, **digester.checksums()}
        attributes = replace(attributes, checksums=checks, checksum_type="FULL_OBJECT" if checks else None)
        info = ObjectInfo(bucket, key, digester.size, f'"{digester.md5.hexdigest()}"', _now(), attributes)
        return self._commit_object(info, blob)

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        return self._object_row(bucket, key)[0]

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        for _ in range(5):
            info, blob = self._object_row(bucket, key)
            try:
                return info, self._files.open(blob)
            except FileNotFoundError:
                continue  # replaced between the lookup and the open: look again
        raise NoSuchKey("The specified key does not exist.", Key=key)

    def read_object(self, bucket: str, key: str) -> bytes:
        _, handle = self.open_object(bucket, key)
        with handle:
            return handle.read()

    def delete_object(self, bucket: str, key: str) -> bool:
        with self._db.transaction() as tx:
            self._require_bucket(tx, bucket)
            row = tx.execute(
                "SELECT blob FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            if row is None:
                return False
            tx.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            tx.execute("INSERT OR IGNORE INTO garbage VALUES (?)", (row["blob"],))
        self._collect_garbage()
        return True

    def copy_object(
        self, source_bucket: str, source_key: str, bucket: str, key: str, attributes: ObjectAttributes | None
    ) -> ObjectInfo:
        check_key(key)
        self.get_bucket(bucket)
        for _ in range(5):
            source, source_blob = self._object_row(source_bucket, source_key)
            try:
                blob = self._files.duplicate(source_blob)  # blobs never change: share the bytes
            except FileNotFoundError:
                continue  # replaced between the lookup and the link: look again
            kept = source.attributes if attributes is None else attributes
            kept = replace(
                kept, checksums=source.attributes.checksums, checksum_type=source.attributes.checksum_type
            )
            info = replace(source, bucket=bucket, key=key, last_modified=_now(), attributes=kept)
            return self._commit_object(info, blob)
        raise NoSuchKey("The specified key does not exist.", Key=source_key)

    def set_tags(self, bucket: str, key: str, tags: Mapping[str, str]) -> ObjectInfo:
        with self._db.transaction() as tx:
            self._require_bucket(tx, bucket)
            row = tx.execute("SELECT * FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
            if row is None:
                raise NoSuchKey("The specified key does not exist.", Key=key)
            attributes = replace(_attributes(row["attributes"]), tags=dict(tags))
            tx.execute(
                "UPDATE objects SET attributes = ? WHERE bucket = ? AND key = ?",
                (_attributes_json(attributes), bucket, key),
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

    # -- multipart uploads ----------------------------------------------------------------------------------

    def create_upload(self, bucket: str, key: str, attributes: ObjectAttributes | None = None) -> Upload:
        check_key(key)
        upload = Upload(
            uuid.uuid4().hex + uuid.uuid4().hex, bucket, key, _now(), attributes or ObjectAttributes()
        )
        with self._db.transaction() as tx:
            self._require_bucket(tx, bucket)
            tx.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?)",
                (
                    upload.upload_id,
                    bucket,
                    key,
                    upload.initiated.timestamp(),
                    _attributes_json(upload.attributes),
                ),
            )
        return upload

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        self.get_bucket(bucket)
        row = (
            self._db.connection()
            .execute(
                "SELECT * FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
                (upload_id, bucket, key),
            )
            .fetchone()
        )
        if row is None:
            raise _no_such_upload(upload_id)
        return Upload(row["upload_id"], bucket, key, _time(row["initiated"]), _attributes(row["attributes"]))

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
        if not 1 <= number <= MAX_PART_NUMBER:
            raise InvalidArgument(
                f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
                ArgumentName="partNumber",
                ArgumentValue=str(number),
            )
        upload = self.get_upload(bucket, key, upload_id)
        wanted = dict(checksums)
        algorithm = upload.attributes.checksum_algorithm
        blob, digester = self._write_blob(data, [*wanted, *([algorithm] if algorithm else [])])
        try:
            self._verify(digester, wanted, content_md5)
        except BadDigest:
            self._files.delete(blob)
            raise
        part = Part(
            number, digester.size, f'"{digester.md5.hexdigest()}"', _now(), {**wanted, **digester.checksums()}
        )
        row = (
            upload_id,
            number,
            blob,
            part.size,
            part.etag,
            part.last_modified.timestamp(),
            json.dumps(part.checksums),
        )
        try:
            with self._db.transaction() as tx:
                if not tx.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone():
                    raise _no_such_upload(upload_id)  # aborted while the part was being written
                tx.execute(
                    "INSERT OR IGNORE INTO garbage SELECT blob FROM parts WHERE upload_id = ? AND number = ?",
                    (upload_id, number),
                )
                tx.execute("INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        except BaseException:
            self._files.delete(blob)
            raise
        self._collect_garbage()
        return part

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[Part]:
        self.get_upload(bucket, key, upload_id)
        rows = self._db.connection().execute(
            "SELECT * FROM parts WHERE upload_id = ? ORDER BY number", (upload_id,)
        )
        return [
            Part(r["number"], r["size"], r["etag"], _time(r["modified"]), json.loads(r["checksums"]))
            for r in rows
        ]

    def complete_upload(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        upload = self.get_upload(bucket, key, upload_id)
        if not parts:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
            )
        numbers = [number for number, _ in parts]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise InvalidPartOrder(
                "The list of parts was not in ascending order. "
                "The parts list must be specified in order by part number.",
                UploadId=upload_id,
            )
        stored = {
            r["number"]: r
            for r in self._db.connection().execute("SELECT * FROM parts WHERE upload_id = ?", (upload_id,))
        }
        chosen: list[sqlite3.Row] = []
        for number, etag in parts:
            row = stored.get(number)
            if row is None or row["etag"].strip('"') != etag.strip('"'):
                raise InvalidPart(
                    "One or more of the specified parts could not be found.  "
                    "The part may not have been uploaded, or the specified entity tag may not match "
                    "the part's entity tag.",
                    UploadId=upload_id,
                    PartNumber=str(number),
                    ETag=etag,
                )
            chosen.append(row)
        for row in chosen[:-1]:
            if row["size"] < MIN_PART_SIZE:
                raise EntityTooSmall(
                    "Your proposed upload is smaller than the minimum allowed size",
                    ProposedSize=str(row["size"]),
                    MinSizeAllowed=str(MIN_PART_SIZE),
                    PartNumber=str(row["number"]),
                    ETag=row["etag"],
                )
        attributes = upload.attributes
        algorithm = attributes.checksum_algorithm
        full_object = attributes.checksum_type == "FULL_OBJECT"
        blob, digester = self._join_parts(
            [r["blob"] for r in chosen], [algorithm] if algorithm and full_object else []
        )
        checks: dict[str, str] = {}
        if algorithm and full_object:
            checks = digester.checksums()
        elif algorithm:
            values = [json.loads(r["checksums"]).get(algorithm) for r in chosen]
            value = checksums.composite(algorithm, values) if all(values) else None
            checks = {algorithm: value} if value else {}
        attributes = replace(
            attributes,
            checksums=checks,
            checksum_type=(attributes.checksum_type or "COMPOSITE") if checks else None,
        )
        etag = checksums.multipart_etag([r["etag"] for r in chosen])
        info = ObjectInfo(bucket, key, digester.size, etag, _now(), attributes, parts_count=len(chosen))
        return self._commit_object(info, blob, finishing=upload_id)

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.get_upload(bucket, key, upload_id)
        with self._db.transaction() as tx:
            self._drop_upload(tx, upload_id)
        self._collect_garbage()

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
        self.get_bucket(bucket)
        rows = self._db.connection().execute(
            "SELECT * FROM uploads WHERE bucket = ? ORDER BY key, initiated, upload_id", (bucket,)
        )
        uploads: list[Upload] = []
        prefixes: list[str] = []
        marker_seen = not upload_id_marker
        for row in rows:
            key: str = row["key"]
            if not key.startswith(prefix) or key < key_marker:
                continue
            if key == key_marker:
                if not upload_id_marker:
                    continue
                if not marker_seen:
                    marker_seen = row["upload_id"] == upload_id_marker
                    continue
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                rolled = key[: cut + len(delimiter)]
                if rolled in prefixes:
                    continue
                if len(uploads) + len(prefixes) >= max_uploads:
                    return UploadListing(uploads, prefixes, True)
                prefixes.append(rolled)
                continue
            if len(uploads) + len(prefixes) >= max_uploads:
                return UploadListing(uploads, prefixes, True)
            uploads.append(
                Upload(row["upload_id"], bucket, key, _time(row["initiated"]), _attributes(row["attributes"]))
            )
        return UploadListing(uploads, prefixes, False)

    # -- internals ------------------------------------------------------------------------------------------

    def _require_bucket(self, tx: sqlite3.Connection, name: str) -> None:
        if not tx.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
            raise NoSuchBucket("The specified bucket does not exist", BucketName=name)

    def _object_row(self, bucket: str, key: str) -> tuple[ObjectInfo, str]:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
            if row is None:
                self._require_bucket(conn, bucket)
                raise NoSuchKey("The specified key does not exist.", Key=key)
        return self._info(row), row["blob"]

    @staticmethod
    def _info(row: sqlite3.Row, attributes: ObjectAttributes | None = None) -> ObjectInfo:
        return ObjectInfo(
            row["bucket"],
            row["key"],
            row["size"],
            row["etag"],
            _time(row["modified"]),
            attributes or _attributes(row["attributes"]),
            row["parts_count"],
        )

    def _commit_object(self, info: ObjectInfo, blob: str, *, finishing: str | None = None) -> ObjectInfo:
        """Make `blob` the object `info` describes; with `finishing`, also retire that multipart upload."""
        try:
            with self._db.transaction() as tx:
                self._require_bucket(tx, info.bucket)
                if finishing is not None:
                    if not tx.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (finishing,)).fetchone():
                        raise _no_such_upload(finishing)
                    self._drop_upload(tx, finishing)
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
                        _attributes_json(info.attributes),
                    ),
                )
        except BaseException:
            self._files.delete(blob)
            raise
        self._collect_garbage()
        return info

    def _drop_upload(self, tx: sqlite3.Connection, upload_id: str) -> None:
        tx.execute("INSERT OR IGNORE INTO garbage SELECT blob FROM parts WHERE upload_id = ?", (upload_id,))
        tx.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        tx.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))

    @staticmethod
    def _verify(digester: checksums.Digester, expected: Mapping[str, str], content_md5: str | None) -> None:
        if content_md5 is not None and content_md5 != checksums.encode(digester.md5.digest()):
            raise BadDigest("The Content-MD5 you specified did not match what we received.")
        computed = digester.checksums()
        for algorithm, value in expected.items():
            if algorithm in computed and computed[algorithm] != value:
                raise BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")

    def _write_blob(
        self, data: bytes | BinaryIO, algorithms: Iterable[str]
    ) -> tuple[str, checksums.Digester]:
        """Write bytes durably under a fresh blob name, hashing them on the way."""
        digester = checksums.Digester(algorithms)
        return self._files.write_data(data, digester), digester

    def _join_parts(self, blobs: Sequence[str], algorithms: Sequence[str]) -> tuple[str, checksums.Digester]:
        digester = checksums.Digester(algorithms)

        def fill(out: BinaryIO) -> None:
            for blob in blobs:
                with self._files.open(blob) as handle:
                    copy_into(out, handle, digester)

        return self._files.write(fill), digester

    def _collect_garbage(self) -> None:
        """Delete blobs that commits have retired; the table remembers them across a crash."""
        conn = self._db.connection()
        blobs = [r[0] for r in conn.execute("SELECT blob FROM garbage")]
        if not blobs:
            return
        for blob in blobs:
            self._files.delete(blob)
        with self._db.transaction() as tx:
            tx.executemany("DELETE FROM garbage WHERE blob = ?", [(b,) for b in blobs])

    def _sweep_orphans(self) -> None:
        """After an unclean stop: delete blob files that no object or part refers to."""
        conn = self._db.connection()
        known = {r[0] for r in conn.execute("SELECT blob FROM objects UNION SELECT blob FROM parts")}
        for name in list(self._files.names()):
            if name not in known:
                self._files.delete(name)


def _no_such_upload(upload_id: str) -> NoSuchUpload:
    return NoSuchUpload(
        "The specified upload does not exist. "
        "The upload ID may be invalid, or the upload may have been aborted or completed.",
        UploadId=upload_id,
    )
