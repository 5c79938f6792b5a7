"""Edits that touch an entity's name everywhere it is written, and service-linked roles' own deletion;
mixed into `IamStore`."""

from __future__ import annotations

import sqlite3

from outcrop.iam.errors import DeleteConflict, EntityAlreadyExists, UnmodifiableEntity
from outcrop.storage.sqlite import Database

# where each kind's name is written, besides its own table: (table, column, kind column or None)
_REFERENCES = {
    "user": [
        ("access_keys", "user", None),
        ("members", "user", None),
        ("mfa_devices", "user", None),
        ("inline_policies", "owner", "user"),
        ("attachments", "owner", "user"),
        ("tags", "owner", "user"),
        ("sessions", "owner", "user"),
        ("sessions", "owner", "federated"),
        ("login_profiles", "user", None),
        ("password_history", "user", None),
    ],
    "group": [
        ("members", "grp", None),
        ("inline_policies", "owner", "group"),
        ("attachments", "owner", "group"),
        ("tags", "owner", "group"),
    ],
}
_TABLE = {"user": "users", "group": "groups_"}


class EntityEdits:
    db: Database

    def changed(self) -> None: ...

    def _exists(self, tx: sqlite3.Connection, kind: str, name: str) -> sqlite3.Row:
        raise NotImplementedError

    def rename(self, kind: str, name: str, new_name: str | None, new_path: str | None) -> None:
        """UpdateUser/UpdateGroup: a new name or path, keeping keys, groups, policies, tags and MFA."""
        with self.db.transaction() as tx:
            self._exists(tx, kind, name)
            table = _TABLE[kind]
            if new_path:
                tx.execute(f"UPDATE {table} SET path = ? WHERE name = ?", (new_path, name))
            if new_name and new_name != name:
                taken = tx.execute(
                    f"SELECT 1 FROM {table} WHERE lower(name) = lower(?) AND name != ?", (new_name, name)
                ).fetchone()
                if taken:
                    raise EntityAlreadyExists(f"{kind.capitalize()} with name {new_name} already exists.")
                tx.execute(f"UPDATE {table} SET name = ? WHERE name = ?", (new_name, name))
                for ref, column, owner_kind in _REFERENCES[kind]:
                    where = f"{column} = ?" + (" AND kind = ?" if owner_kind else "")
                    args = (new_name, name, owner_kind) if owner_kind else (new_name, name)
                    tx.execute(f"UPDATE {ref} SET {column} = ? WHERE {where}", args)
        self.changed()

    @staticmethod
    def in_use(tx: sqlite3.Connection, kind: str, name: str) -> None:
        """DeleteUser and DeleteRole refuse while a login profile, an MFA device or an instance profile
        still holds the entity, as IAM does."""
        holders = {
            "user": [
                ("SELECT 1 FROM login_profiles WHERE user = ?", "must delete login profile first"),
                ("SELECT 1 FROM mfa_devices WHERE user = ?", "must delete MFA device first"),
            ],
            "role": [
                (
                    "SELECT 1 FROM profile_roles WHERE role = ?",
                    "must remove roles from instance profile first",
                )
            ],
        }
        for sql, what in holders.get(kind, []):
            if tx.execute(sql, (name,)).fetchone():
                raise DeleteConflict(f"Cannot delete entity, {what}.")

    def role_service(self, name: str) -> str | None:
        """The service a service-linked role belongs to (None for a role of the account's own)."""
        with self.db.read() as tx:
            row = self._exists(tx, "role", name)
        return str(row["service"]) if row["service"] else None

    def protect(self, name: str) -> None:
        """A service-linked role is changed only by its service (and DeleteServiceLinkedRole)."""
        if self.role_service(name) is not None:
            raise UnmodifiableEntity(
                f"Cannot perform the operation on the protected role '{name}' - this role is only "
                "modifiable by AWS"
            )

    def delete_service_role(self, name: str) -> None:
        """DeleteServiceLinkedRole: the role goes with its policies, tags and sessions."""
        with self.db.transaction() as tx:
            self._exists(tx, "role", name)
            for table in ("inline_policies", "attachments", "tags"):
                tx.execute(f"DELETE FROM {table} WHERE kind = 'role' AND owner = ?", (name,))
            tx.execute("DELETE FROM sessions WHERE kind = 'role' AND owner = ?", (name,))
            tx.execute("DELETE FROM roles WHERE name = ?", (name,))
        self.changed()
