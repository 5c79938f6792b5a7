"""Instance profiles (with their one role) and users' console passwords (login profiles), mixed into
`IamStore` (named migration `0005-...`). Passwords are kept only as scrypt hashes, as a password store
must; the hashes of the last 24 are kept for the password policy's reuse prevention."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from typing import Any

from outcrop.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from outcrop.iam.ids import new_id
from outcrop.storage.sqlite import Database, Migration

PROFILE_MIGRATIONS: list[Migration] = [
    (
        "0005-profiles",
        """
        CREATE TABLE instance_profiles (
            name TEXT PRIMARY KEY, id TEXT NOT NULL, path TEXT NOT NULL, created REAL NOT NULL
        );
        CREATE TABLE profile_roles (
            profile TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (profile, role)
        );
        CREATE TABLE login_profiles (
            user TEXT PRIMARY KEY, hash TEXT NOT NULL, reset_required INTEGER NOT NULL,
            created REAL NOT NULL, changed REAL NOT NULL
        );
        CREATE TABLE password_history (user TEXT NOT NULL, hash TEXT NOT NULL, created REAL NOT NULL)
        """,
    ),
]

ROLES_PER_PROFILE = 1  # AWS's quota: InstanceSessionsPerInstanceProfile
HISTORY = 24  # the password policy's largest PasswordReusePrevention


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"{salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)), stored)


class ProfileRecords:
    db: Database
    account_id: str

    def changed(self) -> None: ...

    def _exists(self, tx: sqlite3.Connection, kind: str, name: str) -> sqlite3.Row:
        raise NotImplementedError

    def entity(self, kind: str, row: sqlite3.Row) -> dict[str, Any]:
        raise NotImplementedError

    # -- instance profiles ------------------------------------------------------------------------------

    def create_profile(self, name: str, path: str) -> None:
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM instance_profiles WHERE lower(name) = lower(?)", (name,)).fetchone():
                raise EntityAlreadyExists(f"Instance Profile {name} already exists.")
            tx.execute(
                "INSERT INTO instance_profiles (name, id, path, created) VALUES (?, ?, ?, ?)",
                (name, new_id("AIPA"), path, time.time()),
            )
        self.changed()

    def profile(self, name: str) -> dict[str, Any]:
        with self.db.read() as tx:
            return self._profile(tx, self._exists(tx, "instance-profile", name))

    def _profile(self, tx: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        found: dict[str, Any] = dict(row)
        found["arn"] = f"arn:aws:iam::{self.account_id}:instance-profile{row['path']}{row['name']}"
        roles = tx.execute(
            "SELECT r.* FROM roles r JOIN profile_roles p ON p.role = r.name WHERE p.profile = ? "
            "ORDER BY r.name",
            (row["name"],),
        ).fetchall()
        found["roles"] = [self.entity("role", role) for role in roles]
        return found

    def profiles(self, path_prefix: str = "/", role: str | None = None) -> list[dict[str, Any]]:
        with self.db.read() as tx:
            if role is not None:
                self._exists(tx, "role", role)
                rows = tx.execute(
                    "SELECT i.* FROM instance_profiles i JOIN profile_roles p ON p.profile = i.name "
                    "WHERE p.role = ? ORDER BY i.name",
                    (role,),
                ).fetchall()
            else:
                rows = tx.execute(
                    "SELECT * FROM instance_profiles WHERE path LIKE ? || '%' ORDER BY name", (path_prefix,)
                ).fetchall()
            return [self._profile(tx, row) for row in rows]

    def profile_role(self, name: str, role: str, *, remove: bool = False) -> None:
        with self.db.transaction() as tx:
            self._exists(tx, "instance-profile", name)
            self._exists(tx, "role", role)
            held = tx.execute(
                "SELECT 1 FROM profile_roles WHERE profile = ? AND role = ?", (name, role)
            ).fetchone()
            if remove:
                if not held:
                    raise NoSuchEntity(
                        f"The role with name {role} cannot be found in instance profile {name}."
                    )
                tx.execute("DELETE FROM profile_roles WHERE profile = ? AND role = ?", (name, role))
            else:
                if held:
                    raise EntityAlreadyExists(f"The role {role} is already in instance profile {name}.")
                count = tx.execute(
                    "SELECT count(*) FROM profile_roles WHERE profile = ?", (name,)
                ).fetchone()[0]
                if count >= ROLES_PER_PROFILE:
                    raise LimitExceeded(
                        f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_PROFILE}"
                    )
                tx.execute("INSERT INTO profile_roles (profile, role) VALUES (?, ?)", (name, role))
        self.changed()

    def delete_profile(self, name: str) -> None:
        with self.db.transaction() as tx:
            self._exists(tx, "instance-profile", name)
            if tx.execute("SELECT 1 FROM profile_roles WHERE profile = ?", (name,)).fetchone():
                raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
            tx.execute("DELETE FROM instance_profiles WHERE name = ?", (name,))
            tx.execute("DELETE FROM tags WHERE kind = 'instance-profile' AND owner = ?", (name,))
        self.changed()

    # -- login profiles ---------------------------------------------------------------------------------

    def login_profile(self, user: str) -> dict[str, Any]:
        with self.db.read() as tx:
            return dict(self._login(tx, user))

    def _login(self, tx: sqlite3.Connection, user: str) -> sqlite3.Row:
        self._exists(tx, "user", user)
        row: sqlite3.Row | None = tx.execute(
            "SELECT * FROM login_profiles WHERE user = ?", (user,)
        ).fetchone()
        if row is None:
            raise NoSuchEntity(f"Login Profile for User {user} cannot be found.")
        return row

    def login_matches(self, user: str, password: str) -> bool:
        return password_matches(password, str(self.login_profile(user)["hash"]))

    def reused(self, user: str, password: str, last: int) -> bool:
        """Whether `password` is one of the user's `last` passwords (PasswordReusePrevention)."""
        with self.db.read() as tx:
            rows = tx.execute(
                "SELECT hash FROM password_history WHERE user = ? ORDER BY created DESC LIMIT ?", (user, last)
            ).fetchall()
        return any(password_matches(password, row[0]) for row in rows)

    def set_login(
        self, user: str, password: str | None, reset: bool | None, *, create: bool = False
    ) -> dict[str, Any]:
        """Create a login profile, or change its password and/or its reset flag."""
        now = time.time()
        with self.db.transaction() as tx:
            self._exists(tx, "user", user)
            exists = tx.execute("SELECT 1 FROM login_profiles WHERE user = ?", (user,)).fetchone()
            if create and exists:
                raise EntityAlreadyExists(f"Login Profile for user {user} already exists.")
            if create:
                tx.execute(
                    "INSERT INTO login_profiles (user, hash, reset_required, created, changed) "
                    "VALUES (?, '', 0, ?, ?)",
                    (user, now, now),
                )
            else:
                self._login(tx, user)
            if password is not None:
                hashed = hash_password(password)
                tx.execute(
                    "UPDATE login_profiles SET hash = ?, changed = ? WHERE user = ?", (hashed, now, user)
                )
                tx.execute(
                    "INSERT INTO password_history (user, hash, created) VALUES (?, ?, ?)", (user, hashed, now)
                )
                tx.execute(
                    "DELETE FROM password_history WHERE user = ? AND rowid NOT IN (SELECT rowid FROM "
                    "password_history WHERE user = ? ORDER BY created DESC LIMIT ?)",
                    (user, user, HISTORY),
                )
            if reset is not None:
                tx.execute("UPDATE login_profiles SET reset_required = ? WHERE user = ?", (int(reset), user))
            row = dict(self._login(tx, user))
        self.changed()
        return row

    def delete_login(self, user: str) -> None:
        with self.db.transaction() as tx:
            self._login(tx, user)
            tx.execute("DELETE FROM login_profiles WHERE user = ?", (user,))
            tx.execute("DELETE FROM password_history WHERE user = ?", (user,))
        self.changed()
