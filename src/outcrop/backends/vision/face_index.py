"""Face collections: named sets of face embeddings in SQLite, searched exactly (a collection holds few faces).

Embeddings are dlib's 128-d descriptors stored as float32 bytes; a search loads the collection's vectors
and ranks them by Euclidean distance, the metric dlib's model was trained for.

A collection lives in an account and region, where its CollectionId is unique: `find` turns that id into the
collection's `key`, which the other methods take (collections from before regions keep their id as key).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from outcrop.backends.vision import Box
from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database, Migration, add_partition

Where = tuple[str, str]
"""(account, region): where a collection lives."""

MIGRATIONS = [
    (
        "001-collections",
        """
        CREATE TABLE collections (
            id TEXT PRIMARY KEY, arn TEXT NOT NULL, created REAL NOT NULL, model_version TEXT NOT NULL,
            tags TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE faces (
            collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            face_id TEXT NOT NULL, image_id TEXT NOT NULL, external_image_id TEXT,
            box TEXT NOT NULL, confidence REAL NOT NULL, embedding BLOB NOT NULL, created REAL NOT NULL,
            PRIMARY KEY (collection_id, face_id)
        );
        """,
    )
]


def migrations(account: str, region: str) -> list[Migration]:
    """The schema, with each collection in an account and region: where its ARN says, else the defaults."""
    return [*MIGRATIONS, ("002-regions", lambda tx: _partition(tx, account, region))]


def _partition(tx: sqlite3.Connection, account: str, region: str) -> None:
    tx.execute("ALTER TABLE collections ADD COLUMN name TEXT NOT NULL DEFAULT ''")
    add_partition(tx, "collections", account, region)
    for row in tx.execute("SELECT id, arn FROM collections").fetchall():
        fields = str(row["arn"]).removeprefix("arn:").split(":")  # aws:rekognition:<region>:<account>:...
        place = (fields[3], fields[2]) if len(fields) > 4 and fields[2] and fields[3] else (account, region)
        tx.execute(
            "UPDATE collections SET name = id, account = ?, region = ? WHERE id = ?", (*place, row["id"])
        )
    tx.execute("CREATE UNIQUE INDEX collections_by_place ON collections (account, region, name)")


class CollectionExists(Exception):
    pass


class NoSuchCollection(Exception):
    pass


@dataclass
class Collection:
    id: str  # the CollectionId, unique in its account and region
    arn: str
    created: float
    model_version: str
    face_count: int
    key: str = ""  # the store's own key for it, unique server-wide


@dataclass
class StoredFace:
    face_id: str
    image_id: str
    external_image_id: str | None
    box: Box
    confidence: float


class FaceIndex:
    def __init__(
        self, directory: Path, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION
    ) -> None:
        """`account` and `region` are the server's defaults, where collections from before regions go."""
        self.db = Database(directory / "collections.sqlite3", migrations(account, region))

    def close(self) -> None:
        self.db.close()

    def create(
        self, collection_id: str, arn: str, model_version: str, tags: dict[str, str], *, where: Where
    ) -> Collection:
        now = time.time()
        key = f"{where[0]}/{where[1]}/{collection_id}"
        with self.db.transaction() as tx:
            taken = tx.execute(
                "SELECT 1 FROM collections WHERE account = ? AND region = ? AND name = ?",
                (*where, collection_id),
            ).fetchone()
            if taken:
                raise CollectionExists(collection_id)
            tx.execute(
                "INSERT INTO collections (id, arn, created, model_version, tags, name, account, region)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, arn, now, model_version, json.dumps(tags), collection_id, *where),
            )
        return Collection(collection_id, arn, now, model_version, 0, key)

    def find(self, collection_id: str, *, where: Where) -> Collection:
        """The collection of that id in the account and region."""
        with self.db.read() as tx:
            row = tx.execute(
                "SELECT id FROM collections WHERE account = ? AND region = ? AND name = ?",
                (*where, collection_id),
            ).fetchone()
        if row is None:
            raise NoSuchCollection(collection_id)
        return self.get(row["id"])

    def get(self, key: str) -> Collection:
        with self.db.read() as tx:
            row = tx.execute("SELECT * FROM collections WHERE id = ?", (key,)).fetchone()
            if row is None:
                raise NoSuchCollection(key)
            count = tx.execute("SELECT COUNT(*) FROM faces WHERE collection_id = ?", (key,)).fetchone()[0]
        return Collection(row["name"], row["arn"], row["created"], row["model_version"], int(count), key)

    def list_collections(self, after: str, limit: int, *, where: Where) -> list[Collection]:
        """The account and region's collections in id order after `after`; one more than `limit` tells
        that a next page exists."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT id FROM collections WHERE account = ? AND region = ? AND name > ?"
                " ORDER BY name LIMIT ?",
                (*where, after, limit + 1),
            ).fetchall()
        return [self.get(row["id"]) for row in rows]

    def tags(self, collection_id: str) -> dict[str, str]:
        with self.db.read() as tx:
            row = tx.execute("SELECT tags FROM collections WHERE id = ?", (collection_id,)).fetchone()
        if row is None:
            raise NoSuchCollection(collection_id)
        return dict(json.loads(row["tags"]))

    def set_tags(self, collection_id: str, tags: dict[str, str]) -> None:
        with self.db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE collections SET tags = ? WHERE id = ?", (json.dumps(tags), collection_id)
            )
            if cursor.rowcount == 0:
                raise NoSuchCollection(collection_id)

    def delete(self, collection_id: str) -> None:
        with self.db.transaction() as tx:
            if tx.execute("DELETE FROM collections WHERE id = ?", (collection_id,)).rowcount == 0:
                raise NoSuchCollection(collection_id)

    def add_faces(
        self, collection_id: str, external_image_id: str | None, faces: list[tuple[Box, float, np.ndarray]]
    ) -> list[StoredFace]:
        """Store the faces found in one image (they share an ImageId), each under a new FaceId."""
        image_id = str(uuid.uuid4())
        stored = []
        with self.db.transaction() as tx:
            if not tx.execute("SELECT 1 FROM collections WHERE id = ?", (collection_id,)).fetchone():
                raise NoSuchCollection(collection_id)
            for box, confidence, embedding in faces:
                face = StoredFace(str(uuid.uuid4()), image_id, external_image_id, box, confidence)
                tx.execute(
                    "INSERT INTO faces VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        collection_id,
                        face.face_id,
                        image_id,
                        external_image_id,
                        json.dumps([box.left, box.top, box.width, box.height]),
                        confidence,
                        embedding.astype(np.float32).tobytes(),
                        time.time(),
                    ),
                )
                stored.append(face)
        return stored

    def list_faces(
        self, collection_id: str, after: str, limit: int, face_ids: list[str] | None
    ) -> list[StoredFace]:
        self.get(collection_id)
        query = "SELECT * FROM faces WHERE collection_id = ? AND face_id > ?"
        args: list[object] = [collection_id, after]
        if face_ids:
            query += f" AND face_id IN ({','.join('?' * len(face_ids))})"
            args += face_ids
        with self.db.read() as tx:
            rows = tx.execute(query + " ORDER BY face_id LIMIT ?", (*args, limit + 1)).fetchall()
        return [_face(row) for row in rows]

    def delete_faces(self, collection_id: str, face_ids: list[str]) -> list[str]:
        """The ids that were there and are now gone."""
        deleted = []
        with self.db.transaction() as tx:
            if not tx.execute("SELECT 1 FROM collections WHERE id = ?", (collection_id,)).fetchone():
                raise NoSuchCollection(collection_id)
            for face_id in face_ids:
                cursor = tx.execute(
                    "DELETE FROM faces WHERE collection_id = ? AND face_id = ?", (collection_id, face_id)
                )
                if cursor.rowcount:
                    deleted.append(face_id)
        return deleted

    def embedding_of(self, collection_id: str, face_id: str) -> np.ndarray | None:
        self.get(collection_id)
        with self.db.read() as tx:
            row = tx.execute(
                "SELECT embedding FROM faces WHERE collection_id = ? AND face_id = ?",
                (collection_id, face_id),
            ).fetchone()
        return None if row is None else np.frombuffer(row["embedding"], dtype=np.float32)

    def nearest(
        self, collection_id: str, query: np.ndarray, limit: int, exclude: str | None = None
    ) -> list[tuple[StoredFace, np.ndarray]]:
        """Up to `limit` faces, closest first, with their embeddings."""
        self.get(collection_id)
        with self.db.read() as tx:
            rows = tx.execute("SELECT * FROM faces WHERE collection_id = ?", (collection_id,)).fetchall()
        rows = [row for row in rows if row["face_id"] != exclude]
        if not rows:
            return []
        matrix = np.stack([np.frombuffer(row["embedding"], dtype=np.float32) for row in rows])
        distances = np.linalg.norm(matrix - query.astype(np.float32), axis=1)
        order = np.argsort(distances)[:limit]
        return [(_face(rows[i]), matrix[i]) for i in order]


def _face(row: sqlite3.Row) -> StoredFace:
    left, top, width, height = json.loads(row["box"])
    return StoredFace(
        row["face_id"],
        row["image_id"],
        row["external_image_id"],
        Box(left, top, width, height),
        row["confidence"],
    )
