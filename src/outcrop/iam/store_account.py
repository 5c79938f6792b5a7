"""The account's own IAM records, mixed into `IamStore`: its alias, password policy, credential report,
virtual MFA devices, and service-linked roles' deletion tasks (named migrations `0004-...`)."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from typing import Any

from outcrop.iam import mfa
from outcrop.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from outcrop.iam.evaluate import Principal
from outcrop.iam.policy import Policy
from outcrop.iam.store_policies import compiled
from outcrop.storage.sqlite import Database, Migration

ACCOUNT_MIGRATIONS: list[Migration] = [
    (
        "0004-account-mfa",
        """
        CREATE TABLE account (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE mfa_devices (
            name TEXT PRIMARY KEY, device TEXT NOT NULL, path TEXT NOT NULL, seed TEXT NOT NULL,
            created REAL NOT NULL, user TEXT, enabled REAL, drift INTEGER NOT NULL DEFAULT 0,
            last_step INTEGER NOT NULL DEFAULT 0
        );
        ALTER TABLE sessions ADD COLUMN mfa REAL;
        ALTER TABLE roles ADD COLUMN service TEXT;
        CREATE TABLE deletion_tasks (
            id TEXT PRIMARY KEY, role TEXT NOT NULL, status TEXT NOT NULL, created REAL NOT NULL
        )
        """,
    ),
]

_ALLOW_ALL = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
MFA_PER_USER = 8  # AWS's quota: MFA devices in use per user
MFA_ROOT = "<root>"  # the user column of a device the account root enabled for itself


class AccountRecords:
    """Account-wide settings, kept as JSON under a key of the `account` table, and MFA devices (their
    `name` column is the serial number, an ARN, so tags and `_exists` find them like other entities)."""

    db: Database
    account_id: str

    def changed(self) -> None: ...

    def _exists(self, tx: sqlite3.Connection, kind: str, name: str) -> sqlite3.Row:
        raise NotImplementedError

    def _user_principal(self, tx: sqlite3.Connection, user: str) -> Principal:
        raise NotImplementedError

    def federated(self, tx: sqlite3.Connection, owner: str, name: str, policy: str | None) -> Principal:
        """A GetFederationToken session: the calling user's permissions (the root's: all) intersected with
        the session policy it was given, and none without one, as AWS documents. It answers as
        `federated-user/<name>`; it is no IAM user, so it acts on no user's keys by default."""
        if owner == MFA_ROOT:
            identity: tuple[Policy, ...] = (compiled(_ALLOW_ALL),)
            boundary = None
        else:
            user = self._user_principal(tx, owner)
            identity, boundary = user.identity, user.boundary
        return Principal(
            "user",
            f"arn:aws:sts::{self.account_id}:federated-user/{name}",
            self.account_id,
            f"{self.account_id}:{name}",
            "",
            identity=identity,
            session=(compiled(policy),) if policy else (),
            boundary=boundary,
        )

    # -- account settings -------------------------------------------------------------------------------

    def setting(self, key: str) -> Any:
        with self.db.read() as tx:
            row = tx.execute("SELECT value FROM account WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_setting(self, key: str, value: Any) -> None:
        """Store (or, with None, remove) one account setting."""
        with self.db.transaction() as tx:
            if value is None:
                tx.execute("DELETE FROM account WHERE key = ?", (key,))
            else:
                tx.execute(
                    "INSERT INTO account (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value)),
                )
        self.changed()

    def counts(self) -> dict[str, int]:
        """How many of each entity the account holds (GetAccountSummary)."""
        queries = {
            "Users": "SELECT count(*) FROM users",
            "Groups": "SELECT count(*) FROM groups_",
            "Roles": "SELECT count(*) FROM roles",
            "Policies": "SELECT count(*) FROM managed_policies",
            "PolicyVersionsInUse": "SELECT count(*) FROM policy_versions",
            "MFADevices": "SELECT count(*) FROM mfa_devices",
            "MFADevicesInUse": "SELECT count(*) FROM mfa_devices WHERE enabled IS NOT NULL",
            "AccountMFAEnabled": f"SELECT count(*) > 0 FROM mfa_devices WHERE user = '{MFA_ROOT}'",
            "InstanceProfiles": "SELECT count(*) FROM instance_profiles",
        }
        with self.db.read() as tx:
            return {name: int(tx.execute(sql).fetchone()[0]) for name, sql in queries.items()}

    # -- virtual MFA devices ----------------------------------------------------------------------------

    def mfa_serial(self, path: str, device: str) -> str:
        return f"arn:aws:iam::{self.account_id}:mfa{path}{device}"

    def create_mfa(self, device: str, path: str) -> dict[str, Any]:
        serial = self.mfa_serial(path, device)
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM mfa_devices WHERE lower(device) = lower(?)", (device,)).fetchone():
                raise EntityAlreadyExists("MFADevice entity at the same path and name already exists.")
            tx.execute(
                "INSERT INTO mfa_devices (name, device, path, seed, created) VALUES (?, ?, ?, ?, ?)",
                (serial, device, path, mfa.new_seed(), time.time()),
            )
            row = tx.execute("SELECT * FROM mfa_devices WHERE name = ?", (serial,)).fetchone()
        self.changed()
        return dict(row)

    def mfa_device(self, serial: str) -> dict[str, Any]:
        with self.db.read() as tx:
            return dict(self._exists(tx, "mfa", serial))

    def mfa_devices(self, user: str | None = None, assigned: bool | None = None) -> list[dict[str, Any]]:
        """Devices, of one user (enabled ones) or all, optionally only assigned or unassigned ones."""
        sql, args = "SELECT * FROM mfa_devices WHERE 1", []
        if user is not None:
            sql, args = sql + " AND user = ?", [user]
        if assigned is not None:
            sql += " AND enabled IS NOT NULL" if assigned else " AND enabled IS NULL"
        with self.db.read() as tx:
            if user is not None and user != MFA_ROOT:
                self._exists(tx, "user", user)
            return [dict(row) for row in tx.execute(sql + " ORDER BY name", args).fetchall()]

    def enable_mfa(self, user: str, serial: str, first: str, second: str) -> bool:
        """Assign a device to a user once two consecutive codes prove it holds the seed; False if they
        do not."""
        with self.db.transaction() as tx:
            if user != MFA_ROOT:
                self._exists(tx, "user", user)
            row = self._exists(tx, "mfa", serial)
            if row["user"] is not None:
                raise EntityAlreadyExists(f"MFA Device is already in use by user {row['user']}.")
            used = tx.execute("SELECT count(*) FROM mfa_devices WHERE user = ?", (user,)).fetchone()[0]
            if used >= MFA_PER_USER:
                raise LimitExceeded(f"Cannot exceed quota for MFADevicesPerUser: {MFA_PER_USER}")
            step = mfa.find_pair(row["seed"], first, second, mfa.now_step())
            if step is None:
                return False
            tx.execute(
                "UPDATE mfa_devices SET user = ?, enabled = ?, drift = 0, last_step = ? WHERE name = ?",
                (user, time.time(), step + 1, serial),
            )
        self.changed()
        return True

    def resync_mfa(self, user: str, serial: str, first: str, second: str) -> bool:
        """Learn a device's clock drift from two consecutive codes found within a wider window."""
        with self.db.transaction() as tx:
            row = self._assigned(tx, user, serial)
            now = mfa.now_step()
            step = mfa.find_pair(row["seed"], first, second, now, mfa.RESYNC_WINDOW)
            if step is None:
                return False
            tx.execute(
                "UPDATE mfa_devices SET drift = ?, last_step = ? WHERE name = ?",
                (step + 1 - now, step + 1, serial),
            )
        self.changed()
        return True

    def _assigned(self, tx: sqlite3.Connection, user: str, serial: str) -> sqlite3.Row:
        if user != MFA_ROOT:
            self._exists(tx, "user", user)
        row: sqlite3.Row | None = tx.execute(
            "SELECT * FROM mfa_devices WHERE name = ? AND user = ?", (serial, user)
        ).fetchone()
        if row is None:
            raise NoSuchEntity(f"MFA Device with serial number {serial} does not exist.")
        return row

    def deactivate_mfa(self, user: str, serial: str) -> None:
        with self.db.transaction() as tx:
            self._assigned(tx, user, serial)
            tx.execute(
                "UPDATE mfa_devices SET user = NULL, enabled = NULL, drift = 0 WHERE name = ?", (serial,)
            )
        self.changed()

    def delete_mfa(self, serial: str) -> None:
        with self.db.transaction() as tx:
            row = self._exists(tx, "mfa", serial)
            if row["user"] is not None:
                raise DeleteConflict("MFA Device is still in use")
            tx.execute("DELETE FROM mfa_devices WHERE name = ?", (serial,))
            tx.execute("DELETE FROM tags WHERE kind = 'mfa' AND owner = ?", (serial,))
        self.changed()

    def check_mfa(self, user: str, serial: str, given: str) -> bool | None:
        """A code for STS: True if it is the device's current code (within a step, after its drift) and
        newer than the last one accepted (a code is good once); False if not; None if the device is not
        the user's."""
        with self.db.transaction() as tx:
            row = tx.execute(
                "SELECT * FROM mfa_devices WHERE name = ? AND user = ?", (serial, user)
            ).fetchone()
            if row is None:
                return None
            step = mfa.find_step(row["seed"], given, mfa.now_step() + row["drift"])
            if step is None or step <= row["last_step"]:
                return False
            tx.execute("UPDATE mfa_devices SET last_step = ? WHERE name = ?", (step, serial))
        return True

    # -- service-linked roles' deletion tasks -----------------------------------------------------------

    def deletion_task(self, role: str, service: str) -> str:
        task = f"task/aws-service-role/{service}/{role}/{uuid.uuid4()}"
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO deletion_tasks (id, role, status, created) VALUES (?, ?, 'SUCCEEDED', ?)",
                (task, role, time.time()),
            )
        return task

    def deletion_status(self, task: str) -> str | None:
        with self.db.read() as tx:
            row = tx.execute("SELECT status FROM deletion_tasks WHERE id = ?", (task,)).fetchone()
        return str(row[0]) if row else None
