"""Policies in the principal store: inline policies, customer managed policies with their versions, and
attachments (customer managed or AWS managed, by ARN). Every document is checked before it is kept."""

from __future__ import annotations

import re
import sqlite3
import time
from functools import lru_cache
from typing import Any

from outcrop.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from outcrop.iam.ids import new_id
from outcrop.iam.managed import BY_ARN
from outcrop.iam.policy import Kind, Policy, parse_policy
from outcrop.storage.sqlite import Database

# IAM's quotas: inline policy characters per principal (whitespace not counted), managed policy size,
# versions per managed policy.
INLINE_LIMIT = {"user": 2048, "group": 5120, "role": 10240}
MANAGED_LIMIT = 6144
VERSIONS_LIMIT = 5
_BOUNDARY_USES = (
    "SELECT (SELECT count(*) FROM users WHERE boundary = ?) + (SELECT count(*) FROM roles WHERE boundary = ?)"
)


@lru_cache(maxsize=4096)
def compiled(document: str, kind: Kind = "identity") -> Policy:
    """A document, parsed and compiled once however many principals carry it."""
    return parse_policy(document, kind)


def _size(document: str) -> int:
    return len(re.sub(r"\s", "", document))


class PolicyRecords:
    """Mixed into IamStore: the policy tables of the same database."""

    db: Database
    account_id: str

    def changed(self) -> None: ...

    def _exists(self, tx: sqlite3.Connection, kind: str, name: str) -> sqlite3.Row:
        raise NotImplementedError

    # -- inline --------------------------------------------------------------------------------------------

    def put_inline(self, kind: str, owner: str, name: str, document: str) -> None:
        compiled(document)
        with self.db.transaction() as tx:
            self._exists(tx, kind, owner)
            others = tx.execute(
                "SELECT document FROM inline_policies WHERE kind = ? AND owner = ? AND name != ?",
                (kind, owner, name),
            ).fetchall()
            total = _size(document) + sum(_size(row[0]) for row in others)
            if total > INLINE_LIMIT[kind]:
                raise LimitExceeded(
                    f"Maximum policy size of {INLINE_LIMIT[kind]} bytes exceeded for {kind} {owner}"
                )
            tx.execute(
                "INSERT OR REPLACE INTO inline_policies (kind, owner, name, document) VALUES (?, ?, ?, ?)",
                (kind, owner, name, document),
            )
        self.changed()

    def get_inline(self, kind: str, owner: str, name: str) -> str:
        with self.db.read() as tx:
            self._exists(tx, kind, owner)
            row = tx.execute(
                "SELECT document FROM inline_policies WHERE kind = ? AND owner = ? AND name = ?",
                (kind, owner, name),
            ).fetchone()
        if row is None:
            raise NoSuchEntity(f"The {kind} policy with name {name} cannot be found.")
        return str(row[0])

    def delete_inline(self, kind: str, owner: str, name: str) -> None:
        self.get_inline(kind, owner, name)
        with self.db.transaction() as tx:
            tx.execute(
                "DELETE FROM inline_policies WHERE kind = ? AND owner = ? AND name = ?", (kind, owner, name)
            )
        self.changed()

    def inline_names(self, kind: str, owner: str) -> list[str]:
        with self.db.read() as tx:
            self._exists(tx, kind, owner)
            rows = tx.execute(
                "SELECT name FROM inline_policies WHERE kind = ? AND owner = ? ORDER BY name", (kind, owner)
            ).fetchall()
        return [str(row[0]) for row in rows]

    def inline_documents(self, kind: str, owner: str) -> list[tuple[str, str]]:
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT name, document FROM inline_policies WHERE kind = ? AND owner = ? ORDER BY name",
                (kind, owner),
            ).fetchall()
        return [(str(row[0]), str(row[1])) for row in rows]

    # -- managed -------------------------------------------------------------------------------------------

    def create_policy(self, name: str, path: str, document: str, description: str) -> dict[str, Any]:
        compiled(document)
        if _size(document) > MANAGED_LIMIT:
            raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_LIMIT}")
        arn = f"arn:aws:iam::{self.account_id}:policy{path}{name}"
        now = time.time()
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM managed_policies WHERE name = ?", (name,)).fetchone():
                raise EntityAlreadyExists(
                    f"A policy called {name} already exists. Duplicate names are not allowed."
                )
            tx.execute(
                "INSERT INTO managed_policies VALUES (?, ?, ?, ?, ?, 'v1', 2, ?, ?)",
                (arn, name, new_id("ANPA"), path, description, now, now),
            )
            tx.execute("INSERT INTO policy_versions VALUES (?, 'v1', ?, ?)", (arn, document, now))
        return self.policy(arn)

    def policy(self, arn: str) -> dict[str, Any]:
        """A managed policy's facts (AWS managed ones too), with how many principals attach it."""
        with self.db.read() as tx:
            count = tx.execute("SELECT count(*) FROM attachments WHERE arn = ?", (arn,)).fetchone()[0]
            bounds = tx.execute(_BOUNDARY_USES, (arn, arn)).fetchone()[0]
            row = tx.execute("SELECT * FROM managed_policies WHERE arn = ?", (arn,)).fetchone()
        aws = BY_ARN.get(arn)
        if aws is not None:
            created = aws.created.timestamp()
            return {
                "arn": arn,
                "name": aws.name,
                "id": "ANPA" + re.sub(r"[^A-Z0-9]", "", aws.name.upper())[:17].ljust(17, "X"),
                "path": aws.path,
                "description": aws.description,
                "default_version": "v1",
                "created": created,
                "updated": created,
                "attachments": count,
                "boundary_uses": bounds,
            }
        if row is None:
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        return {**dict(row), "attachments": count, "boundary_uses": bounds}

    def list_policies(
        self, scope: str = "All", only_attached: bool = False, path_prefix: str = "/"
    ) -> list[dict[str, Any]]:
        arns: list[str] = []
        if scope in ("All", "AWS"):
            arns += sorted(BY_ARN)
        if scope in ("All", "Local"):
            with self.db.read() as tx:
                arns += [str(r[0]) for r in tx.execute("SELECT arn FROM managed_policies ORDER BY name")]
        found = [self.policy(arn) for arn in arns]
        return [
            p for p in found if p["path"].startswith(path_prefix) and (p["attachments"] or not only_attached)
        ]

    def _local(self, tx: sqlite3.Connection, arn: str) -> sqlite3.Row:
        row: sqlite3.Row | None = tx.execute(
            "SELECT * FROM managed_policies WHERE arn = ?", (arn,)
        ).fetchone()
        if row is None:
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        return row

    def delete_policy(self, arn: str) -> None:
        with self.db.transaction() as tx:
            self._local(tx, arn)
            if tx.execute("SELECT 1 FROM attachments WHERE arn = ?", (arn,)).fetchone():
                raise DeleteConflict("Cannot delete a policy attached to entities.")
            if tx.execute(_BOUNDARY_USES, (arn, arn)).fetchone()[0]:
                raise DeleteConflict("Cannot delete a policy used as a permissions boundary.")
            if tx.execute("SELECT count(*) FROM policy_versions WHERE arn = ?", (arn,)).fetchone()[0] > 1:
                raise DeleteConflict(
                    "This policy has more than one version. Before you delete a policy, you must delete "
                    "the policy's versions. The default version is deleted with the policy."
                )
            tx.execute("DELETE FROM policy_versions WHERE arn = ?", (arn,))
            tx.execute("DELETE FROM managed_policies WHERE arn = ?", (arn,))
            tx.execute("DELETE FROM tags WHERE kind = 'policy' AND owner = ?", (arn,))
        self.changed()

    def create_version(self, arn: str, document: str, set_default: bool) -> dict[str, Any]:
        compiled(document)
        if _size(document) > MANAGED_LIMIT:
            raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_LIMIT}")
        now = time.time()
        with self.db.transaction() as tx:
            row = self._local(tx, arn)
            if (
                tx.execute("SELECT count(*) FROM policy_versions WHERE arn = ?", (arn,)).fetchone()[0]
                >= VERSIONS_LIMIT
            ):
                raise LimitExceeded(
                    f"A managed policy can have up to {VERSIONS_LIMIT} versions. Before you create a new "
                    "version, you must delete an existing version."
                )
            version = f"v{row['next_version']}"
            tx.execute("INSERT INTO policy_versions VALUES (?, ?, ?, ?)", (arn, version, document, now))
            tx.execute(
                "UPDATE managed_policies SET next_version = next_version + 1, updated = ? WHERE arn = ?",
                (now, arn),
            )
            if set_default:
                tx.execute("UPDATE managed_policies SET default_version = ? WHERE arn = ?", (version, arn))
        self.changed()
        return self.version(arn, version)

    def version(self, arn: str, version: str) -> dict[str, Any]:
        aws = BY_ARN.get(arn)
        if aws is not None and version == "v1":
            return {
                "version": "v1",
                "document": aws.document,
                "created": aws.created.timestamp(),
                "default": True,
            }
        with self.db.read() as tx:
            policy = self._local(tx, arn)
            row = tx.execute(
                "SELECT * FROM policy_versions WHERE arn = ? AND version = ?", (arn, version)
            ).fetchone()
        if row is None:
            raise NoSuchEntity(f"Policy {arn} version {version} does not exist or is not attachable.")
        return {
            "version": version,
            "document": row["document"],
            "created": row["created"],
            "default": policy["default_version"] == version,
        }

    def versions(self, arn: str) -> list[dict[str, Any]]:
        if arn in BY_ARN:
            return [self.version(arn, "v1")]
        with self.db.read() as tx:
            self._local(tx, arn)
            names = [
                str(r[0]) for r in tx.execute("SELECT version FROM policy_versions WHERE arn = ?", (arn,))
            ]
        return sorted((self.version(arn, v) for v in names), key=lambda v: -int(v["version"][1:]))

    def delete_version(self, arn: str, version: str) -> None:
        if self.version(arn, version)["default"]:
            raise DeleteConflict("Cannot delete the default version of a policy.")
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM policy_versions WHERE arn = ? AND version = ?", (arn, version))
        self.changed()

    def set_default(self, arn: str, version: str) -> None:
        self.version(arn, version)
        with self.db.transaction() as tx:
            tx.execute("UPDATE managed_policies SET default_version = ? WHERE arn = ?", (version, arn))
        self.changed()

    # -- attachments ---------------------------------------------------------------------------------------

    def attach(self, kind: str, owner: str, arn: str, *, detach: bool = False) -> None:
        self.policy(arn)
        with self.db.transaction() as tx:
            self._exists(tx, kind, owner)
            if detach:
                gone = tx.execute(
                    "DELETE FROM attachments WHERE kind = ? AND owner = ? AND arn = ?", (kind, owner, arn)
                )
                if gone.rowcount == 0:
                    raise NoSuchEntity(f"Policy {arn} was not found.")
            else:
                tx.execute("INSERT OR IGNORE INTO attachments VALUES (?, ?, ?)", (kind, owner, arn))
        self.changed()

    def attached(self, kind: str, owner: str) -> list[dict[str, str]]:
        with self.db.read() as tx:
            self._exists(tx, kind, owner)
            arns = [
                str(r[0])
                for r in tx.execute(
                    "SELECT arn FROM attachments WHERE kind = ? AND owner = ? ORDER BY arn", (kind, owner)
                )
            ]
        return [{"PolicyName": arn.rsplit("/", 1)[-1], "PolicyArn": arn} for arn in arns]

    def entities_for(self, arn: str) -> list[tuple[str, str]]:
        self.policy(arn)
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT kind, owner FROM attachments WHERE arn = ? ORDER BY owner", (arn,)
            ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def policies_of(self, tx: sqlite3.Connection, kind: str, owner: str) -> list[Policy]:
        """Every identity policy a user, group or role carries itself, compiled."""
        found = [
            compiled(str(row[0]))
            for row in tx.execute(
                "SELECT document FROM inline_policies WHERE kind = ? AND owner = ?", (kind, owner)
            )
        ]
        # attachments with their default versions in one query: the principal is rebuilt after every
        # IAM write, and one query per attached policy made that the slow request (100 policies: ~100)
        for arn, document in tx.execute(
            "SELECT a.arn, v.document FROM attachments a "
            "LEFT JOIN managed_policies p ON p.arn = a.arn "
            "LEFT JOIN policy_versions v ON v.arn = p.arn AND v.version = p.default_version "
            "WHERE a.kind = ? AND a.owner = ? ORDER BY a.arn",
            (kind, owner),
        ).fetchall():
            aws = BY_ARN.get(arn)
            if aws is not None:
                found.append(compiled(aws.document))
            elif document is not None:
                found.append(compiled(str(document)))
        return found
