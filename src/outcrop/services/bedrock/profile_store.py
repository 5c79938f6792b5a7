"""Application inference profiles and the tags of Bedrock resources, in SQLite under the data dir.

A profile row keeps what Get answers (name, description, the model ARNs it copies) and the catalog model id
it serves, resolved once at creation, so that `model_of` (the inference path's resolver for profile ids
and ARNs used as `modelId`) is one indexed lookup.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import time
from dataclasses import dataclass
from pathlib import Path

from outcrop.storage.sqlite import Database

MIGRATIONS = [
    (
        "001-application-profiles-and-tags",
        """
        CREATE TABLE application_profiles (
            id TEXT PRIMARY KEY, arn TEXT NOT NULL UNIQUE, account TEXT NOT NULL, region TEXT NOT NULL,
            name TEXT NOT NULL, description TEXT, source_arn TEXT NOT NULL, model_id TEXT NOT NULL,
            models TEXT NOT NULL, client_token TEXT, created REAL NOT NULL, updated REAL NOT NULL,
            UNIQUE (account, region, name)
        );
        CREATE UNIQUE INDEX application_profiles_token
            ON application_profiles(account, client_token) WHERE client_token IS NOT NULL;
        CREATE TABLE tags (
            arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (arn, key)
        );
        """,
    ),
]

_ID_ALPHABET = string.ascii_lowercase + string.digits
_APPLICATION = ":application-inference-profile/"


class ProfileNameTaken(Exception):
    """Another application profile of the account and region has the name."""


@dataclass(frozen=True)
class ApplicationProfile:
    id: str
    arn: str
    account: str
    region: str
    name: str
    description: str | None
    source_arn: str
    model_id: str  # the catalog id it serves
    models: tuple[str, ...]  # the foundation-model ARNs Get lists
    created: float
    updated: float


def _profile(row: sqlite3.Row) -> ApplicationProfile:
    return ApplicationProfile(
        id=row["id"],
        arn=row["arn"],
        account=row["account"],
        region=row["region"],
        name=row["name"],
        description=row["description"],
        source_arn=row["source_arn"],
        model_id=row["model_id"],
        models=tuple(json.loads(row["models"])),
        created=row["created"],
        updated=row["updated"],
    )


def profile_id(identifier: str) -> str | None:
    """The id in an application profile's id or ARN (None for any other ARN)."""
    if not identifier.startswith("arn:"):
        return identifier
    head, found, tail = identifier.partition(_APPLICATION)
    return tail if found and head.startswith("arn:") else None


class InferenceProfileStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    # -- application profiles --------------------------------------------------------------------------------

    def create(
        self,
        *,
        account: str,
        region: str,
        name: str,
        description: str | None,
        source_arn: str,
        model_id: str,
        models: list[str],
        client_token: str | None,
        tags: list[tuple[str, str]],
    ) -> tuple[ApplicationProfile, bool]:
        """The new profile and True; or, for a client token already used, the profile it made and False."""
        with self.db.transaction() as tx:
            if client_token:
                row = tx.execute(
                    "SELECT * FROM application_profiles WHERE account = ? AND client_token = ?",
                    (account, client_token),
                ).fetchone()
                if row is not None:
                    return _profile(row), False
            taken = tx.execute(
                "SELECT 1 FROM application_profiles WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            ).fetchone()
            if taken:
                raise ProfileNameTaken(name)
            new_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
            arn = f"arn:aws:bedrock:{region}:{account}{_APPLICATION}{new_id}"
            now = time.time()
            tx.execute(
                "INSERT INTO application_profiles (id, arn, account, region, name, description, source_arn,"
                " model_id, models, client_token, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (new_id, arn, account, region, name, description, source_arn, model_id,
                 json.dumps(models), client_token, now, now),
            )  # fmt: skip
            tx.executemany("INSERT INTO tags (arn, key, value) VALUES (?, ?, ?)", [(arn, *t) for t in tags])
            row = tx.execute("SELECT * FROM application_profiles WHERE id = ?", (new_id,)).fetchone()
        return _profile(row), True

    def get(self, identifier: str) -> ApplicationProfile | None:
        """A profile by id or ARN."""
        found = profile_id(identifier)
        if not found:
            return None
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM application_profiles WHERE id = ?", (found,)).fetchone()
        return None if row is None else _profile(row)

    def in_region(self, account: str, region: str) -> list[ApplicationProfile]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM application_profiles WHERE account = ? AND region = ? ORDER BY created, id",
                (account, region),
            ).fetchall()
        return [_profile(row) for row in rows]

    def delete(self, profile: ApplicationProfile) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM application_profiles WHERE id = ?", (profile.id,))
            tx.execute("DELETE FROM tags WHERE arn = ?", (profile.arn,))

    def model_of(self, identifier: str) -> str | None:
        """The catalog model id an application profile (by id or ARN) serves; None if it is not one."""
        profile = self.get(identifier) if len(identifier) <= 2048 else None
        return None if profile is None else profile.model_id

    # -- tags ------------------------------------------------------------------------------------------------

    def tags(self, arn: str) -> list[tuple[str, str]]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT key, value FROM tags WHERE arn = ? ORDER BY key", (arn,)).fetchall()
        return [(row["key"], row["value"]) for row in rows]

    def tag(self, arn: str, tags: list[tuple[str, str]], limit: int) -> bool:
        """Add or overwrite tags; False (and nothing written) if the resource would pass `limit` tags."""
        with self.db.transaction() as tx:
            keys = {row["key"] for row in tx.execute("SELECT key FROM tags WHERE arn = ?", (arn,))}
            if len(keys | {key for key, _ in tags}) > limit:
                return False
            tx.executemany(
                "INSERT INTO tags (arn, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
                [(arn, key, value) for key, value in tags],
            )
        return True

    def untag(self, arn: str, keys: list[str]) -> None:
        with self.db.transaction() as tx:
            tx.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, key) for key in keys])
