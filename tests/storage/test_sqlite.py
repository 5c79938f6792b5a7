"""The shared SQLite helper: named migrations, per-thread connections, WAL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from outcrop.storage.sqlite import Database, Migration

FIRST: list[Migration] = [
    ("0001_items", "CREATE TABLE items (name TEXT PRIMARY KEY); CREATE INDEX i ON items (name)")
]


def test_migrations_run_once_by_name(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite3", FIRST)
    with db.transaction() as tx:
        tx.execute("INSERT INTO items VALUES ('a')")
    db.close()

    def add_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE items ADD COLUMN size INTEGER DEFAULT 0")

    again = Database(tmp_path / "x.sqlite3", [*FIRST, ("0002_size", add_column)])
    names = [r[0] for r in again.connection().execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == ["0001_items", "0002_size"]
    assert [tuple(r) for r in again.connection().execute("SELECT name, size FROM items")] == [("a", 0)]
    assert again.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    broken: list[Migration] = [
        *FIRST,
        ("0002_broken", "CREATE TABLE other (x INTEGER); SELECT * FROM nowhere"),
    ]
    with pytest.raises(sqlite3.OperationalError):
        Database(tmp_path / "x.sqlite3", broken)
    db = Database(tmp_path / "x.sqlite3", FIRST)
    tables = {r[0] for r in db.connection().execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "other" not in tables
    db.close()


def test_transactions_roll_back_and_threads_get_their_own_connection(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.sqlite3", FIRST)
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.execute("INSERT INTO items VALUES ('rolled back')")
        raise RuntimeError
    assert db.connection().execute("SELECT count(*) FROM items").fetchone()[0] == 0
    seen: list[sqlite3.Connection] = []

    def work(n: int) -> None:
        seen.append(db.connection())
        for i in range(50):
            with db.transaction() as tx:
                tx.execute("INSERT INTO items VALUES (?)", (f"{n}-{i}",))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(c) for c in seen}) == 4
    assert db.connection().execute("SELECT count(*) FROM items").fetchone()[0] == 200
    db.close()


def test_a_finished_threads_connection_is_closed(tmp_path: Path) -> None:
    """Threads made per job or per stream (issue 18): each one's connection closes when it ends, so file
    descriptors and page caches do not pile up over a long-running server."""
    db = Database(tmp_path / "x.sqlite3", FIRST)
    seen: list[sqlite3.Connection] = []

    def work() -> None:
        seen.append(db.connection())
        db.connection().execute("SELECT count(*) FROM items").fetchone()

    for _ in range(20):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert len(seen) == 20
    for conn in seen:  # every one of them closed once its thread ended
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    with db.transaction() as tx:  # the main thread's own connection is untouched
        tx.execute("INSERT INTO items VALUES ('kept')")
    assert db.connection().execute("SELECT name FROM items").fetchone()[0] == "kept"
    db.close()
