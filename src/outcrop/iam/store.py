"""The principal store: users, groups, roles, access keys and STS sessions, in SQLite.

Policies (inline, customer managed with versions, attachments) are in `store_policies`; this module
also resolves an access key to its secret and its principal with every policy compiled, cached until
the next write, so authorizing a request reads no SQL.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcrop.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from outcrop.iam.evaluate import Principal
from outcrop.iam.ids import new_id, new_secret
from outcrop.iam.policy import Policy
from outcrop.iam.store_account import ACCOUNT_MIGRATIONS, AccountRecords
from outcrop.iam.store_edits import EntityEdits
from outcrop.iam.store_policies import PolicyRecords, compiled
from outcrop.iam.store_profiles import PROFILE_MIGRATIONS, ProfileRecords
from outcrop.iam.store_tags import TagRecords
from outcrop.storage.sqlite import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "0001-principals",
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY, id TEXT NOT NULL, path TEXT NOT NULL, created REAL NOT NULL
        );
        CREATE TABLE groups_ (
            name TEXT PRIMARY KEY, id TEXT NOT NULL, path TEXT NOT NULL, created REAL NOT NULL
        );
        CREATE TABLE members (grp TEXT NOT NULL, user TEXT NOT NULL, PRIMARY KEY (grp, user));
        CREATE TABLE roles (
            name TEXT PRIMARY KEY, id TEXT NOT NULL, path TEXT NOT NULL, created REAL NOT NULL,
            trust TEXT NOT NULL, description TEXT NOT NULL, max_session INTEGER NOT NULL
        );
        CREATE TABLE access_keys (
            id TEXT PRIMARY KEY, secret TEXT NOT NULL, user TEXT NOT NULL, status TEXT NOT NULL,
            created REAL NOT NULL
        );
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY, secret TEXT NOT NULL, token TEXT NOT NULL, kind TEXT NOT NULL,
            owner TEXT NOT NULL, session_name TEXT NOT NULL, policy TEXT, expires REAL NOT NULL
        )
        """,
    ),
    (
        "0002-policies",
        """
        CREATE TABLE inline_policies (
            kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
            PRIMARY KEY (kind, owner, name)
        );
        CREATE TABLE managed_policies (
            arn TEXT PRIMARY KEY, name TEXT NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL,
            description TEXT NOT NULL, default_version TEXT NOT NULL, next_version INTEGER NOT NULL,
            created REAL NOT NULL, updated REAL NOT NULL
        );
        CREATE TABLE policy_versions (
            arn TEXT NOT NULL, version TEXT NOT NULL, document TEXT NOT NULL, created REAL NOT NULL,
            PRIMARY KEY (arn, version)
        );
        CREATE TABLE attachments (
            kind TEXT NOT NULL, owner TEXT NOT NULL, arn TEXT NOT NULL, PRIMARY KEY (kind, owner, arn)
        )
        """,
    ),
    (
        "0003-boundaries-tags",
        """
        ALTER TABLE users ADD COLUMN boundary TEXT;
        ALTER TABLE roles ADD COLUMN boundary TEXT;
        ALTER TABLE sessions ADD COLUMN tags TEXT;
        ALTER TABLE sessions ADD COLUMN transitive TEXT;
        CREATE TABLE tags (
            kind TEXT NOT NULL, owner TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (kind, owner, key)
        )
        """,
    ),
    *ACCOUNT_MIGRATIONS,
    *PROFILE_MIGRATIONS,
]

ACCESS_KEYS_PER_USER = 2
CACHED_KEYS = 10000  # resolved keys kept between writes
CACHED_UNKNOWN = 1024  # keys known to be no key, kept until a key is made
_KIND_TABLE = {
    "user": "users",
    "group": "groups_",
    "role": "roles",
    "mfa": "mfa_devices",
    "instance-profile": "instance_profiles",
}
_KIND_WORD = {"user": "user", "group": "group", "role": "role"}


@dataclass(frozen=True)
class KeyRecord:
    """What a request's access key stands for: its secret, its session token and expiry, its principal."""

    secret: str
    principal: Principal
    token: str = ""  # STS credentials only
    expires: float = 0.0  # STS credentials only (epoch seconds)
    active: bool = True
    mfa: float | None = None  # when the session's MFA code was checked (STS credentials only)

    def mfa_keys(self, now: float) -> dict[str, list[str]]:
        return mfa_context(bool(self.token), self.mfa, now)


def mfa_context(temporary: bool, mfa_at: float | None, now: float) -> dict[str, list[str]]:
    """`aws:MultiFactorAuthPresent` and `aws:MultiFactorAuthAge`, as AWS puts them in a request's
    context: absent for long-term keys, "false" for temporary credentials made without MFA, and with
    MFA "true" and the seconds since the code was checked."""
    if not temporary:
        return {}
    if mfa_at is None:
        return {"aws:multifactorauthpresent": ["false"]}
    return {
        "aws:multifactorauthpresent": ["true"],
        "aws:multifactorauthage": [str(max(0, int(now - mfa_at)))],
    }


class IamStore(AccountRecords, EntityEdits, ProfileRecords, PolicyRecords, TagRecords):
    def __init__(self, path: Path, account_id: str) -> None:
        self.account_id = account_id
        self.db = Database(path, MIGRATIONS)
        self._cache: dict[str, KeyRecord] = {}
        self._cache_lock = threading.Lock()
        self._generation = 0  # bumped by every write: a record read before one is never cached after it
        # keys found to be no IAM or STS key (dev mode's made-up keys, which CloudTrail looks up for
        # every call it records), bounded: random keys must not grow it
        self._unknown: set[str] = set()

    def close(self) -> None:
        self.db.close()

    def changed(self) -> None:
        """Every write forgets the resolved keys: the next request compiles the principal afresh."""
        with self._cache_lock:
            self._generation += 1
            self._cache.clear()
            self._unknown.clear()

    def arn(self, kind: str, path: str, name: str) -> str:
        return f"arn:aws:iam::{self.account_id}:{kind}{path}{name}"

    # -- users, groups, roles ------------------------------------------------------------------------------

    def _exists(self, tx: sqlite3.Connection, kind: str, name: str) -> sqlite3.Row:
        row: sqlite3.Row | None = tx.execute(
            f"SELECT * FROM {_KIND_TABLE[kind]} WHERE name = ?", (name,)
        ).fetchone()
        if row is None and kind == "mfa":
            raise NoSuchEntity(f"VirtualMFADevice with serial number {name} doesn't exist.")
        if row is None and kind == "instance-profile":
            raise NoSuchEntity(f"Instance Profile {name} cannot be found.")
        if row is None:
            raise NoSuchEntity(f"The {_KIND_WORD[kind]} with name {name} cannot be found.")
        return row

    def create(self, kind: str, name: str, path: str, **extra: Any) -> dict[str, Any]:
        prefix = {"user": "AIDA", "group": "AGPA", "role": "AROA"}[kind]
        with self.db.transaction() as tx:
            taken = tx.execute(
                f"SELECT 1 FROM {_KIND_TABLE[kind]} WHERE lower(name) = lower(?)", (name,)
            ).fetchone()
            if taken:
                raise EntityAlreadyExists(f"{kind.capitalize()} with name {name} already exists.")
            columns = {"name": name, "id": new_id(prefix), "path": path, "created": time.time(), **extra}
            marks = ", ".join("?" for _ in columns)
            tx.execute(
                f"INSERT INTO {_KIND_TABLE[kind]} ({', '.join(columns)}) VALUES ({marks})",
                tuple(columns.values()),
            )
            row = self._exists(tx, kind, name)
        self.changed()
        return self.entity(kind, row)

    def entity(self, kind: str, row: sqlite3.Row) -> dict[str, Any]:
        found: dict[str, Any] = dict(row)
        found["arn"] = self.arn(kind, row["path"], row["name"])
        return found

    def get(self, kind: str, name: str) -> dict[str, Any]:
        with self.db.read() as tx:
            return self.entity(kind, self._exists(tx, kind, name))

    def entities(self, kind: str, path_prefix: str = "/") -> list[dict[str, Any]]:
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT * FROM {_KIND_TABLE[kind]} WHERE path LIKE ? || '%' ORDER BY name", (path_prefix,)
            ).fetchall()
        return [self.entity(kind, row) for row in rows]

    def update_role(self, name: str, **columns: Any) -> None:
        with self.db.transaction() as tx:
            self._exists(tx, "role", name)
            for column, value in columns.items():
                tx.execute(f"UPDATE roles SET {column} = ? WHERE name = ?", (value, name))
        self.changed()

    def delete(self, kind: str, name: str) -> None:
        with self.db.transaction() as tx:
            self._exists(tx, kind, name)
            if kind == "user" and tx.execute("SELECT 1 FROM access_keys WHERE user = ?", (name,)).fetchone():
                raise DeleteConflict("Cannot delete entity, must delete access keys first.")
            if tx.execute(
                "SELECT 1 FROM inline_policies WHERE kind = ? AND owner = ?", (kind, name)
            ).fetchone():
                raise DeleteConflict("Cannot delete entity, must delete policies first.")
            if tx.execute("SELECT 1 FROM attachments WHERE kind = ? AND owner = ?", (kind, name)).fetchone():
                raise DeleteConflict("Cannot delete entity, must detach all policies first.")
            if kind == "user" and tx.execute("SELECT 1 FROM members WHERE user = ?", (name,)).fetchone():
                raise DeleteConflict("Cannot delete entity, must remove users from group first.")
            self.in_use(tx, kind, name)
            if kind == "group" and tx.execute("SELECT 1 FROM members WHERE grp = ?", (name,)).fetchone():
                raise DeleteConflict("Cannot delete entity, must remove users from group first.")
            tx.execute(f"DELETE FROM {_KIND_TABLE[kind]} WHERE name = ?", (name,))
            self.forget_tags(tx, kind, name)
            if kind == "role":
                tx.execute("DELETE FROM sessions WHERE kind = 'role' AND owner = ?", (name,))
        self.changed()

    def add_member(self, group: str, user: str, *, remove: bool = False) -> None:
        with self.db.transaction() as tx:
            self._exists(tx, "group", group)
            self._exists(tx, "user", user)
            if remove:
                tx.execute("DELETE FROM members WHERE grp = ? AND user = ?", (group, user))
            else:
                tx.execute("INSERT OR IGNORE INTO members (grp, user) VALUES (?, ?)", (group, user))
        self.changed()

    def groups_of(self, user: str) -> list[dict[str, Any]]:
        with self.db.read() as tx:
            self._exists(tx, "user", user)
            rows = tx.execute(
                "SELECT g.* FROM groups_ g JOIN members m ON m.grp = g.name WHERE m.user = ? ORDER BY g.name",
                (user,),
            ).fetchall()
        return [self.entity("group", row) for row in rows]

    def members_of(self, group: str) -> list[dict[str, Any]]:
        with self.db.read() as tx:
            self._exists(tx, "group", group)
            rows = tx.execute(
                "SELECT u.* FROM users u JOIN members m ON m.user = u.name WHERE m.grp = ? ORDER BY u.name",
                (group,),
            ).fetchall()
        return [self.entity("user", row) for row in rows]

    # -- access keys ---------------------------------------------------------------------------------------

    def create_access_key(self, user: str) -> dict[str, Any]:
        with self.db.transaction() as tx:
            self._exists(tx, "user", user)
            count = tx.execute("SELECT count(*) FROM access_keys WHERE user = ?", (user,)).fetchone()[0]
            if count >= ACCESS_KEYS_PER_USER:
                raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}")
            key = {"id": new_id("AKIA", 16), "secret": new_secret(), "user": user, "status": "Active"}
            tx.execute(
                "INSERT INTO access_keys (id, secret, user, status, created) VALUES (?, ?, ?, ?, ?)",
                (key["id"], key["secret"], user, "Active", time.time()),
            )
            row = tx.execute("SELECT * FROM access_keys WHERE id = ?", (key["id"],)).fetchone()
        self.changed()
        return dict(row)

    def access_keys(self, user: str) -> list[dict[str, Any]]:
        with self.db.read() as tx:
            self._exists(tx, "user", user)
            rows = tx.execute("SELECT * FROM access_keys WHERE user = ? ORDER BY created", (user,)).fetchall()
        return [dict(row) for row in rows]

    def change_access_key(self, user: str, key_id: str, status: str | None) -> None:
        """Set a key's status, or delete it when `status` is None."""
        with self.db.transaction() as tx:
            self._exists(tx, "user", user)
            if not tx.execute(
                "SELECT 1 FROM access_keys WHERE id = ? AND user = ?", (key_id, user)
            ).fetchone():
                raise NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")
            if status is None:
                tx.execute("DELETE FROM access_keys WHERE id = ?", (key_id,))
            else:
                tx.execute("UPDATE access_keys SET status = ? WHERE id = ?", (status, key_id))
        self.changed()

    def user_of_key(self, key_id: str) -> str | None:
        with self.db.read() as tx:
            row = tx.execute("SELECT user FROM access_keys WHERE id = ?", (key_id,)).fetchone()
        return str(row[0]) if row else None

    # -- STS sessions --------------------------------------------------------------------------------------

    def create_session(
        self,
        kind: str,
        owner: str,
        session_name: str,
        seconds: int,
        policy: str | None,
        tags: dict[str, str] | None = None,
        transitive: list[str] | None = None,
        min_token: int = 0,
        mfa_at: float | None = None,
    ) -> dict[str, Any]:
        """Temporary credentials for a role (`kind` "role") or a user's GetSessionToken ("user"), with
        the session tags AssumeRole was passed and which of them pass on to a chained role session.
        The token is padded to `min_token` characters (STS's MinimumSessionTokenSize)."""
        token = "IQoJb3V0Y3JvcA" + secrets.token_urlsafe(96)
        if len(token) < min_token:
            token += secrets.token_urlsafe(min_token)[: min_token - len(token)]
        session = {
            "id": new_id("ASIA", 16),
            "secret": new_secret(),
            "token": token,
            "kind": kind,
            "owner": owner,
            "session_name": session_name,
            "policy": policy,
            "expires": time.time() + seconds,
            "tags": json.dumps(tags) if tags else None,
            "transitive": json.dumps(transitive) if transitive else None,
            "mfa": mfa_at,
        }
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM sessions WHERE expires < ?", (time.time() - 86400,))
            tx.execute(
                "INSERT INTO sessions (id, secret, token, kind, owner, session_name, policy, expires, tags, "
                "transitive, mfa) VALUES (:id, :secret, :token, :kind, :owner, :session_name, :policy, "
                ":expires, :tags, :transitive, :mfa)",
                session,
            )
        with self._cache_lock:  # the new key is known now (other keys' records stay cached)
            self._generation += 1
            self._unknown.clear()
        return session

    # -- resolving a key -----------------------------------------------------------------------------------

    def resolve(self, key_id: str) -> KeyRecord | None:
        """The record an access key stands for (IAM user key or STS session), or None if unknown.

        Read without the lock (a dict look-up is atomic); a record read from the database is kept only
        if no write happened meanwhile, so a write racing the read cannot leave its old state cached."""
        record = self._cache.get(key_id)
        if record is not None or key_id in self._unknown:
            return record
        with self._cache_lock:
            generation = self._generation
        record = self._resolve(key_id)
        with self._cache_lock:
            if generation == self._generation:
                if record is None:
                    if len(self._unknown) >= CACHED_UNKNOWN:
                        self._unknown.clear()
                    self._unknown.add(key_id)
                else:
                    if len(self._cache) >= CACHED_KEYS:
                        self._cache.clear()
                    self._cache[key_id] = record
        return record

    def _resolve(self, key_id: str) -> KeyRecord | None:
        with self.db.read() as tx:
            row = tx.execute("SELECT * FROM access_keys WHERE id = ?", (key_id,)).fetchone()
            if row is not None:
                principal = self._user_principal(tx, row["user"])
                return KeyRecord(row["secret"], principal, active=row["status"] == "Active")
            session = tx.execute("SELECT * FROM sessions WHERE id = ?", (key_id,)).fetchone()
            if session is None:
                return None
            if session["kind"] == "root":
                principal = self.root_principal()
            elif session["kind"] == "user":
                principal = self._user_principal(tx, session["owner"])
            elif session["kind"] == "federated":
                principal = self.federated(tx, session["owner"], session["session_name"], session["policy"])
            else:
                principal = self._role_principal(
                    tx,
                    session["owner"],
                    session["session_name"],
                    session["policy"],
                    json.loads(session["tags"] or "{}"),
                    tuple(json.loads(session["transitive"] or "[]")),
                )
            return KeyRecord(
                session["secret"], principal, session["token"], session["expires"], mfa=session["mfa"]
            )

    def _user_principal(self, tx: sqlite3.Connection, user: str) -> Principal:
        row = self._exists(tx, "user", user)
        policies = self.policies_of(tx, "user", user)
        for (group,) in tx.execute("SELECT grp FROM members WHERE user = ?", (user,)).fetchall():
            policies += self.policies_of(tx, "group", group)
        arn = self.arn("user", row["path"], user)
        return Principal(
            "user",
            arn,
            self.account_id,
            row["id"],
            user,
            identity=tuple(policies),
            boundary=self.boundary_of(tx, row),
            tags=tuple(self.tags_in(tx, "user", user).items()),
        )

    def _role_principal(
        self,
        tx: sqlite3.Connection,
        role: str,
        session_name: str,
        session_policy: str | None,
        session_tags: dict[str, str] | None = None,
        transitive: tuple[str, ...] = (),
    ) -> Principal:
        """A role session: session tags override the role's own tags of the same key (any case)."""
        row = self._exists(tx, "role", role)
        session: tuple[Policy, ...] | None = None
        if session_policy:
            session = (compiled(session_policy),)
        tags = {k.lower(): (k, v) for k, v in self.tags_in(tx, "role", role).items()}
        tags.update({k.lower(): (k, v) for k, v in (session_tags or {}).items()})
        return Principal(
            "assumed-role",
            f"arn:aws:sts::{self.account_id}:assumed-role/{role}/{session_name}",
            self.account_id,
            f"{row['id']}:{session_name}",
            role,
            role_arn=self.arn("role", row["path"], role),
            identity=tuple(self.policies_of(tx, "role", role)),
            session=session,
            boundary=self.boundary_of(tx, row),
            tags=tuple(tags.values()),
            transitive=transitive,
        )

    def root_principal(self, key_id: str = "") -> Principal:
        return Principal(
            "root", f"arn:aws:iam::{self.account_id}:root", self.account_id, key_id or self.account_id
        )

    def trust_policy(self, role_arn: str) -> Policy | None:
        """A role's trust policy (its resource policy for sts:AssumeRole), or None for no such role."""
        name = role_arn.rsplit("/", 1)[-1]
        with self.db.read() as tx:
            row = tx.execute("SELECT trust, path FROM roles WHERE name = ?", (name,)).fetchone()
        if row is None or self.arn("role", row["path"], name) != role_arn:
            return None
        return compiled(str(row["trust"]), "trust")

    def role_principal(self, role: str, session_name: str, session_policy: str | None = None) -> Principal:
        """A role acting as itself (for SimulatePrincipalPolicy and services running as a role)."""
        with self.db.read() as tx:
            return self._role_principal(tx, role, session_name, session_policy)

    def user_principal(self, user: str) -> Principal:
        with self.db.read() as tx:
            return self._user_principal(tx, user)
