"""What the local object store and its multipart uploads share: one SQLite schema, how its rows encode
values, and the two steps both take on blob files (writing one whose digests are checked, and deleting
the ones a commit retired).

They live here, apart from both, so that `localobjects` and `localuploads` depend on this module and
never on each other's internals.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import BinaryIO

from outcrop.storage import checksums
from outcrop.storage.blobs import BlobFiles
from outcrop.storage.objects import BadDigest, NoSuchBucket, ObjectAttributes
from outcrop.storage.sqlite import Database, Migration

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


def now() -> datetime:
    return datetime.now(UTC)


def time_of(value: float) -> datetime:
    """A stored timestamp (seconds) as the aware datetime it was written from."""
    return datetime.fromtimestamp(value, UTC)


def attributes_json(attributes: ObjectAttributes) -> str:
    return json.dumps(asdict(attributes), separators=(",", ":"))


def attributes_of(text: str) -> ObjectAttributes:
    return ObjectAttributes(**json.loads(text))


def require_bucket(conn: sqlite3.Connection, name: str) -> None:
    if not conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
        raise NoSuchBucket("The specified bucket does not exist", BucketName=name)


def write_checked_blob(
    files: BlobFiles,
    data: bytes | BinaryIO,
    algorithms: Iterable[str],
    expected: Mapping[str, str],
    content_md5: str | None,
) -> tuple[str, checksums.Digester]:
    """Write bytes durably under a fresh blob name, hashing them on the way; if a digest the client sent
    does not match, delete the blob again and raise BadDigest."""
    digester = checksums.Digester(algorithms)
    blob = files.write_data(data, digester)
    try:
        _verify(digester, expected, content_md5)
    except BadDigest:
        files.delete(blob)
        raise
    return blob, digester


def collect_garbage(db: Database, files: BlobFiles) -> None:
    """Delete blobs that commits have retired; the table remembers them across a crash."""
    conn = db.connection()
    blobs = [r[0] for r in conn.execute("SELECT blob FROM garbage")]
    if not blobs:
        return
    for blob in blobs:
        files.delete(blob)
    with db.transaction() as tx:
        tx.executemany("DELETE FROM garbage WHERE blob = ?", [(b,) for b in blobs])


def _verify(digester: checksums.Digester, expected: Mapping[str, str], content_md5: str | None) -> None:
    if content_md5 is not None and content_md5 != checksums.encode(digester.md5.digest()):
        raise BadDigest("The Content-MD5 you specified did not match what we received.")
    computed = digester.checksums()
    for algorithm, value in expected.items():
        if algorithm in computed and computed[algorithm] != value:
            raise BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")
