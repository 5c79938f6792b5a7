"""Multipart uploads for the local object store: parts are blobs like objects, recorded in the same database.

A part is written and fsynced as its own blob before its row is committed, exactly as an object is.
Completing an upload checks the parts the client names, joins their bytes into one new blob and hands
that back; the store then commits it as the object and retires the upload (`finish_upload`) in the same
transaction, so a crash leaves either the upload or the finished object, never both or neither. This
class never makes an object visible itself.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import BinaryIO

from outcrop.storage import checksums
from outcrop.storage.blobs import BlobFiles, copy_into
from outcrop.storage.objectrecords import (
    attributes_json,
    attributes_of,
    collect_garbage,
    now,
    require_bucket,
    time_of,
    write_checked_blob,
)
from outcrop.storage.objects import (
    MAX_PART_NUMBER,
    MIN_PART_SIZE,
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    MalformedXML,
    NoSuchUpload,
    ObjectAttributes,
    ObjectInfo,
    Part,
    Upload,
    UploadListing,
    check_key,
)
from outcrop.storage.sqlite import Database


class LocalUploads:
    """The multipart side of `LocalObjectStore`, on the store's database and blob files."""

    def __init__(self, db: Database, files: BlobFiles) -> None:
        self._db = db
        self._files = files

    def create_upload(self, bucket: str, key: str, attributes: ObjectAttributes | None = None) -> Upload:
        check_key(key)
        upload = Upload(
            uuid.uuid4().hex + uuid.uuid4().hex, bucket, key, now(), attributes or ObjectAttributes()
        )
        with self._db.transaction() as tx:
            require_bucket(tx, bucket)
            tx.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?)",
                (
                    upload.upload_id,
                    bucket,
                    key,
                    upload.initiated.timestamp(),
                    attributes_json(upload.attributes),
                ),
            )
        return upload

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        conn = self._db.connection()
        require_bucket(conn, bucket)
        row = conn.execute(
            "SELECT * FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
            (upload_id, bucket, key),
        ).fetchone()
        if row is None:
            raise no_such_upload(upload_id)
        return _upload(row)

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
        blob, digester = write_checked_blob(
            self._files, data, [*wanted, *([algorithm] if algorithm else [])], wanted, content_md5
        )
        part = Part(
            number, digester.size, f'"{digester.md5.hexdigest()}"', now(), {**wanted, **digester.checksums()}
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
                    raise no_such_upload(upload_id)  # aborted while the part was being written
                tx.execute(
                    "INSERT OR IGNORE INTO garbage SELECT blob FROM parts WHERE upload_id = ? AND number = ?",
                    (upload_id, number),
                )
                tx.execute("INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        except BaseException:
            self._files.delete(blob)
            raise
        collect_garbage(self._db, self._files)
        return part

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[Part]:
        self.get_upload(bucket, key, upload_id)
        rows = self._db.connection().execute(
            "SELECT * FROM parts WHERE upload_id = ? ORDER BY number", (upload_id,)
        )
        return [
            Part(r["number"], r["size"], r["etag"], time_of(r["modified"]), json.loads(r["checksums"]))
            for r in rows
        ]

    def assemble(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> tuple[ObjectInfo, str]:
        """Check the parts a CompleteMultipartUpload names and join them into a new durable blob: the
        object to commit and its blob. The upload stays until the caller commits with `finish_upload`."""
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
        info = ObjectInfo(bucket, key, digester.size, etag, now(), attributes, parts_count=len(chosen))
        return info, blob

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.get_upload(bucket, key, upload_id)
        with self._db.transaction() as tx:
            drop_upload(tx, upload_id)
        collect_garbage(self._db, self._files)

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
        conn = self._db.connection()
        require_bucket(conn, bucket)
        rows = conn.execute(
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
            uploads.append(_upload(row))
        return UploadListing(uploads, prefixes, False)

    def _join_parts(self, blobs: Sequence[str], algorithms: Sequence[str]) -> tuple[str, checksums.Digester]:
        digester = checksums.Digester(algorithms)

        def fill(out: BinaryIO) -> None:
            for blob in blobs:
                with self._files.open(blob) as handle:
                    copy_into(out, handle, digester)

        return self._files.write(fill), digester


def finish_upload(tx: sqlite3.Connection, upload_id: str) -> None:
    """Inside the transaction that commits a completed upload's object: retire the upload, or raise
    NoSuchUpload if it was aborted (or completed) while its parts were being joined."""
    if not tx.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone():
        raise no_such_upload(upload_id)
    drop_upload(tx, upload_id)


def drop_upload(tx: sqlite3.Connection, upload_id: str) -> None:
    """Forget an upload and its parts; their blobs go to the garbage table, deleted after the commit."""
    tx.execute("INSERT OR IGNORE INTO garbage SELECT blob FROM parts WHERE upload_id = ?", (upload_id,))
    tx.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
    tx.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))


def _upload(row: sqlite3.Row) -> Upload:
    return Upload(
        row["upload_id"],
        row["bucket"],
        row["key"],
        time_of(row["initiated"]),
        attributes_of(row["attributes"]),
    )


def no_such_upload(upload_id: str) -> NoSuchUpload:
    return NoSuchUpload(
        "The specified upload does not exist. "
        "The upload ID may be invalid, or the upload may have been aborted or completed.",
        UploadId=upload_id,
    )
