"""The shared SQLite helper: one connection per thread, WAL, full fsync, and named migrations.

Service methods run on a pool of worker threads; a connection per thread avoids sharing one connection's
transaction state between requests, WAL lets readers proceed while one writer commits, and
`synchronous=FULL` makes a commit durable before the API says the write happened.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
"""A store's own view when no account or region is named: Settings' defaults, which a server passes in."""

Migration = tuple[str, str | Callable[[sqlite3.Connection], None]]
"""A named schema step: SQL (one or more statements), or a function given the open transaction."""


class Database:
    """One SQLite file. `transaction()` for writes (BEGIN IMMEDIATE), `read()` for consistent reads."""

    def __init__(self, path: Path, migrations: Sequence[Migration], *, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate(migrations)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use and closed when the thread ends."""
        held: _Held | None = getattr(self._local, "held", None)
        if held is None:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            held = _Held(conn)
            # A thread made per job or per stream would otherwise leave its connection open for good:
            # two file descriptors and a page cache each (issue 18's growing RSS under the fuzzer).
            weakref.finalize(held, self._release, conn)
            self._local.held = held
            with self._all_lock:
                self._all.append(conn)
        return held.conn

    def _release(self, conn: sqlite3.Connection) -> None:
        """A finished thread's connection (its thread-local went with it)."""
        with self._all_lock:
            if conn in self._all:
                self._all.remove(conn)
        with suppress(sqlite3.Error):
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        conn = self.connection()
        self._begin(conn, "BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query in the block sees the same snapshot."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    def _begin(self, conn: sqlite3.Connection, statement: str) -> None:
        # sqlite3's own busy timeout covers most waits; this loop covers the rare SQLITE_BUSY on BEGIN.
        deadline = time.monotonic() + self._busy_timeout_s
        while True:
            try:
                conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        """Apply, in order and each in its own transaction, the migrations not yet recorded in the file."""
        conn = self.connection()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        for name, step in migrations:
            with self.transaction() as tx:
                if tx.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                    continue
                if callable(step):
                    step(tx)
                else:
                    for statement in _statements(step):
                        tx.execute(statement)
                tx.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))


class _Held:
    """A thread's connection in its thread-local: when the thread ends the holder goes, and its
    finalizer closes the connection (sqlite3 connections take no weak references themselves)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (our migrations keep semicolons out of literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]


def partition_column(name: str, default: str) -> str:
    """A column definition for a partition key (`account`, `region`) whose default places the rows
    written before it existed: the server's default account or region, quoted as an SQL literal."""
    return f"{name} TEXT NOT NULL DEFAULT '{default.replace(chr(39), chr(39) * 2)}'"


def add_partition(tx: sqlite3.Connection, table: str, account: str | None, region: str) -> None:
    """Give a table the region (and the account, where `account` is given) columns, the existing rows
    in the server's defaults: a named migration's step for a store made before regions partitioned it."""
    if account is not None:
        tx.execute(f"ALTER TABLE {table} ADD COLUMN {partition_column('account', account)}")
    tx.execute(f"ALTER TABLE {table} ADD COLUMN {partition_column('region', region)}")
