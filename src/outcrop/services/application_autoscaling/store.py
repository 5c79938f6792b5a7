"""Scalable targets, scaling policies and scaling activities, durable in SQLite (the data dir)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "0001_application_autoscaling",
        """
        CREATE TABLE targets (
            namespace TEXT NOT NULL, resource_id TEXT NOT NULL, dimension TEXT NOT NULL, body TEXT NOT NULL,
            PRIMARY KEY (namespace, resource_id, dimension)
        );
        CREATE TABLE policies (
            namespace TEXT NOT NULL, resource_id TEXT NOT NULL, dimension TEXT NOT NULL, name TEXT NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (namespace, resource_id, dimension, name)
        );
        CREATE TABLE activities (
            id TEXT PRIMARY KEY, namespace TEXT NOT NULL, resource_id TEXT NOT NULL, dimension TEXT NOT NULL,
            started REAL NOT NULL, body TEXT NOT NULL
        );
        CREATE INDEX activities_by_target ON activities (namespace, resource_id, started)
        """,
    ),
]

Key = tuple[str, str, str]  # (ServiceNamespace, ResourceId, ScalableDimension)


class ScalingStore:
    def __init__(self, root: Path) -> None:
        self.db = Database(root / "application-autoscaling.db", MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def put_target(self, key: Key, body: dict[str, Any]) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO targets VALUES (?, ?, ?, ?) ON CONFLICT (namespace, resource_id, dimension)"
                " DO UPDATE SET body = excluded.body",
                (*key, json.dumps(body)),
            )

    def target(self, key: Key) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT body FROM targets WHERE namespace = ? AND resource_id = ? AND dimension = ?", key
            ).fetchone()
        return None if row is None else dict(json.loads(row["body"]))

    def targets(self, namespace: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT body FROM targets WHERE namespace = ? ORDER BY resource_id", (namespace,)
            ).fetchall()
        return [json.loads(r["body"]) for r in rows]

    def delete_target(self, key: Key) -> bool:
        with self.db.transaction() as tx:
            gone = tx.execute(
                "DELETE FROM targets WHERE namespace = ? AND resource_id = ? AND dimension = ?", key
            ).rowcount
            tx.execute("DELETE FROM policies WHERE namespace = ? AND resource_id = ? AND dimension = ?", key)
        return bool(gone)

    def put_policy(self, key: Key, name: str, body: dict[str, Any]) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO policies VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (namespace, resource_id, dimension, name) DO UPDATE SET body = excluded.body",
                (*key, name, json.dumps(body)),
            )

    def policies(self, namespace: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT body FROM policies WHERE namespace = ? ORDER BY resource_id, name", (namespace,)
            ).fetchall()
        return [json.loads(r["body"]) for r in rows]

    def delete_policy(self, key: Key, name: str) -> bool:
        with self.db.transaction() as tx:
            gone = tx.execute(
                "DELETE FROM policies WHERE namespace = ? AND resource_id = ? AND dimension = ? AND name = ?",
                (*key, name),
            ).rowcount
        return bool(gone)

    def add_activity(self, key: Key, body: dict[str, Any]) -> None:
        activity_id = str(uuid.uuid4())
        body = {"ActivityId": activity_id, **body}
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO activities VALUES (?, ?, ?, ?, ?, ?)",
                (activity_id, *key, body.get("StartTime", time.time()), json.dumps(body)),
            )

    def activities(self, namespace: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT body FROM activities WHERE namespace = ? ORDER BY started DESC", (namespace,)
            ).fetchall()
        return [json.loads(r["body"]) for r in rows]
