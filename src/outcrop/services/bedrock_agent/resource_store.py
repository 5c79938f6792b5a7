"""Prompt management and flows state: prompts, flows and their versions, flow aliases, in SQLite.

Each resource is a JSON body per (kind, id, version): `DRAFT` is the editable working copy, numbered versions
are frozen snapshots of it. A flow alias is stored as kind `flow-alias` with the flow id as its id and the
alias id as its version, so every row is found the same way. Shared by bedrock-agent (which writes),
bedrock-agent-runtime (InvokeFlow) and bedrock-runtime (a prompt ARN as a Converse modelId).
"""

from __future__ import annotations

import json
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.storage.sqlite import Database

MIGRATIONS = [
    (
        "001-prompts-flows-aliases",
        """
        CREATE TABLE resources (
            kind TEXT NOT NULL, id TEXT NOT NULL, version TEXT NOT NULL, account TEXT NOT NULL,
            region TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, created REAL NOT NULL,
            updated REAL NOT NULL, PRIMARY KEY (kind, id, version)
        );
        CREATE INDEX resources_by_owner ON resources(kind, account, region, version);
        """,
    ),
]

DRAFT = "DRAFT"
_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_resource_id() -> str:
    """Ten characters, the form of Bedrock's prompt, flow and alias ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


class NameTaken(Exception):
    """Another resource of the kind, account and region has the name."""


@dataclass(frozen=True)
class Resource:
    kind: str
    id: str
    version: str
    account: str
    region: str
    name: str
    body: dict[str, Any]
    created: float
    updated: float


class AgentResourceStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def put(
        self, kind: str, rid: str, version: str, account: str, region: str, body: dict[str, Any]
    ) -> Resource:
        """Create or replace one row; a new DRAFT or alias name already used by another id is NameTaken."""
        now = time.time()
        name = str(body.get("name", ""))
        with self.db.transaction() as tx:
            if kind == "flow-alias":  # alias names are unique within their flow
                taken = tx.execute(
                    "SELECT 1 FROM resources WHERE kind = ? AND id = ? AND name = ? AND version != ?",
                    (kind, rid, name, version),
                ).fetchone()
            elif version == DRAFT:  # prompt and flow names are unique within the account and region
                taken = tx.execute(
                    "SELECT 1 FROM resources WHERE kind = ? AND account = ? AND region = ? AND name = ? "
                    "AND version = ? AND id != ?",
                    (kind, account, region, name, DRAFT, rid),
                ).fetchone()
            else:
                taken = None
            if taken is not None:
                raise NameTaken(name)
            row = tx.execute(
                "SELECT created FROM resources WHERE kind = ? AND id = ? AND version = ?",
                (kind, rid, version),
            ).fetchone()
            created = row["created"] if row is not None else now
            tx.execute(
                "INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, rid, version, account, region, name, json.dumps(body), created, now),
            )
        return Resource(kind, rid, version, account, region, name, body, created, now)

    def get(self, kind: str, rid: str, version: str, account: str, region: str) -> Resource | None:
        with self.db.read() as tx:
            row = tx.execute(
                "SELECT * FROM resources WHERE kind = ? AND id = ? AND version = ? AND account = ? "
                "AND region = ?",
                (kind, rid, version, account, region),
            ).fetchone()
        return _resource(row) if row is not None else None

    def drafts(self, kind: str, account: str, region: str) -> list[Resource]:
        """Every resource of a kind (its DRAFT row), oldest first."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT * FROM resources WHERE kind = ? AND account = ? AND region = ? AND version = ? "
                "ORDER BY created, id",
                (kind, account, region, DRAFT),
            ).fetchall()
        return [_resource(row) for row in rows]

    def versions(self, kind: str, rid: str) -> list[Resource]:
        """All rows of one id: DRAFT first, then numbered versions in order (aliases by creation)."""
        with self.db.read() as tx:
            rows = tx.execute("SELECT * FROM resources WHERE kind = ? AND id = ?", (kind, rid)).fetchall()
        found = [_resource(row) for row in rows]
        return sorted(
            found, key=lambda r: (r.version != DRAFT, int(r.version) if r.version.isdigit() else 0, r.created)
        )

    def next_version(self, kind: str, rid: str) -> int:
        numbers = [int(r.version) for r in self.versions(kind, rid) if r.version.isdigit()]
        return max(numbers, default=0) + 1

    def delete(self, kind: str, rid: str, version: str | None = None) -> None:
        """One version, or (None) every row of the id."""
        with self.db.transaction() as tx:
            if version is None:
                tx.execute("DELETE FROM resources WHERE kind = ? AND id = ?", (kind, rid))
            else:
                tx.execute(
                    "DELETE FROM resources WHERE kind = ? AND id = ? AND version = ?", (kind, rid, version)
                )


def _resource(row: Any) -> Resource:
    return Resource(
        kind=row["kind"],
        id=row["id"],
        version=row["version"],
        account=row["account"],
        region=row["region"],
        name=row["name"],
        body=json.loads(row["body"]),
        created=row["created"],
        updated=row["updated"],
    )
