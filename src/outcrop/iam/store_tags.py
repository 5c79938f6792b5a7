"""Tags of users, roles and customer managed policies, and the permissions boundaries of users and roles,
in the principal store. A boundary is a managed policy's ARN; the principal carries its compiled document,
so `auth = "iam"` honours it on every request."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from outcrop.iam.errors import InvalidInput, LimitExceeded, NoSuchEntity
from outcrop.iam.managed import BY_ARN
from outcrop.iam.policy import Policy
from outcrop.iam.store_policies import compiled
from outcrop.storage.sqlite import Database

TAGS_LIMIT = 50  # IAM's quota: tags per user, role or policy
_TABLE = {"user": "users", "role": "roles"}


def check_tags(tags: Sequence[Mapping[str, Any]]) -> None:
    keys = [str(t["Key"]) for t in tags]
    if len({k.lower() for k in keys}) != len(keys):
        raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    if len(keys) > TAGS_LIMIT:
        raise LimitExceeded(
            f"The number of tags has reached the maximum limit of {TAGS_LIMIT} for this entity."
        )


class TagRecords:
    """Mixed into IamStore: the tags table and the users' and roles' boundary column."""

    db: Database

    def changed(self) -> None: ...

    def _exists(self, tx: sqlite3.Connection, kind: str, name: str) -> sqlite3.Row:
        raise NotImplementedError

    def _owner(self, tx: sqlite3.Connection, kind: str, owner: str) -> None:
        if kind != "policy":
            self._exists(tx, kind, owner)
        elif not tx.execute("SELECT 1 FROM managed_policies WHERE arn = ?", (owner,)).fetchone():
            raise NoSuchEntity(f"Policy {owner} does not exist or is not attachable.")

    # -- tags ----------------------------------------------------------------------------------------------

    def tag(self, kind: str, owner: str, tags: Sequence[Mapping[str, Any]]) -> None:
        """Add or overwrite tags; IAM tag keys are unique whatever their case."""
        check_tags(tags)
        with self.db.transaction() as tx:
            self._owner(tx, kind, owner)
            for item in tags:
                tx.execute(
                    "DELETE FROM tags WHERE kind = ? AND owner = ? AND lower(key) = lower(?)",
                    (kind, owner, item["Key"]),
                )
                tx.execute(
                    "INSERT INTO tags (kind, owner, key, value) VALUES (?, ?, ?, ?)",
                    (kind, owner, item["Key"], item.get("Value") or ""),
                )
            count = tx.execute(
                "SELECT count(*) FROM tags WHERE kind = ? AND owner = ?", (kind, owner)
            ).fetchone()[0]
            if count > TAGS_LIMIT:
                raise LimitExceeded(
                    f"The number of tags has reached the maximum limit of {TAGS_LIMIT} for this entity."
                )
        self.changed()

    def untag(self, kind: str, owner: str, keys: Sequence[str]) -> None:
        with self.db.transaction() as tx:
            self._owner(tx, kind, owner)
            for key in keys:
                tx.execute(
                    "DELETE FROM tags WHERE kind = ? AND owner = ? AND lower(key) = lower(?)",
                    (kind, owner, key),
                )
        self.changed()

    def tags(self, kind: str, owner: str) -> dict[str, str]:
        with self.db.read() as tx:
            self._owner(tx, kind, owner)
            return self.tags_in(tx, kind, owner)

    @staticmethod
    def tags_in(tx: sqlite3.Connection, kind: str, owner: str) -> dict[str, str]:
        rows = tx.execute(
            "SELECT key, value FROM tags WHERE kind = ? AND owner = ? ORDER BY key", (kind, owner)
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def forget_tags(self, tx: sqlite3.Connection, kind: str, owner: str) -> None:
        tx.execute("DELETE FROM tags WHERE kind = ? AND owner = ?", (kind, owner))

    # -- permissions boundaries ----------------------------------------------------------------------------

    def boundary_document(self, tx: sqlite3.Connection, arn: str) -> str:
        """The default version of the managed policy `arn` (AWS or customer managed)."""
        aws = BY_ARN.get(arn)
        if aws is not None:
            return aws.document
        row = tx.execute(
            "SELECT v.document FROM policy_versions v JOIN managed_policies p "
            "ON p.arn = v.arn AND p.default_version = v.version WHERE p.arn = ?",
            (arn,),
        ).fetchone()
        if row is None:
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        return str(row[0])

    def set_boundary(self, kind: str, name: str, arn: str | None) -> None:
        """Set (or, with None, remove) a user's or role's permissions boundary."""
        with self.db.transaction() as tx:
            self._exists(tx, kind, name)
            if arn is not None:
                compiled(self.boundary_document(tx, arn))
            tx.execute(f"UPDATE {_TABLE[kind]} SET boundary = ? WHERE name = ?", (arn, name))
        self.changed()

    def boundary_of(self, tx: sqlite3.Connection, row: sqlite3.Row) -> tuple[Policy, ...] | None:
        """The compiled boundary of a users/roles row, or None when it has none. A boundary policy
        deleted since (IAM refuses that while in use) would leave nothing allowed, never everything."""
        arn = row["boundary"]
        if not arn:
            return None
        try:
            return (compiled(self.boundary_document(tx, str(arn))),)
        except NoSuchEntity:
            return ()

    def check_boundary(self, arn: str) -> None:
        """That `arn` names a managed policy that can be a boundary (before an entity is made with it)."""
        with self.db.read() as tx:
            compiled(self.boundary_document(tx, arn))

    def boundary_holders(self, arn: str) -> list[tuple[str, str]]:
        """The users and roles whose permissions boundary is `arn`, as (kind, name)."""
        with self.db.read() as tx:
            users = tx.execute("SELECT name FROM users WHERE boundary = ? ORDER BY name", (arn,)).fetchall()
            roles = tx.execute("SELECT name FROM roles WHERE boundary = ? ORDER BY name", (arn,)).fetchall()
        return [("user", str(r[0])) for r in users] + [("role", str(r[0])) for r in roles]
