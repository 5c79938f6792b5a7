"""Polly's lexicons: PLS documents in SQLite, each in the account and region that stored it.

A lexicon's name is unique within its account and region, as on AWS; Polly's limit of 100 lexicons
counts within them too.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from outcrop.jobs.partition import Where, rebuild
from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database, Migration

_MIGRATIONS: list[Migration] = [
    (
        "0001-lexicons",
        """
        CREATE TABLE lexicons (
            name TEXT PRIMARY KEY, content TEXT NOT NULL, alphabet TEXT NOT NULL, language TEXT NOT NULL,
            lexemes INTEGER NOT NULL, size INTEGER NOT NULL, modified REAL NOT NULL
        )
        """,
    )
]
_PARTITIONED = """
    CREATE TABLE lexicons_new (
        name TEXT NOT NULL, content TEXT NOT NULL, alphabet TEXT NOT NULL, language TEXT NOT NULL,
        lexemes INTEGER NOT NULL, size INTEGER NOT NULL, modified REAL NOT NULL,
        account TEXT NOT NULL, region TEXT NOT NULL, PRIMARY KEY (account, region, name)
    )
"""


def migrations(account: str, region: str) -> list[Migration]:
    """The schema, with each lexicon in an account and region (existing ones in the defaults)."""
    return [
        *_MIGRATIONS,
        ("0002-regions", lambda tx: rebuild(tx, "lexicons", _PARTITIONED, (account, region))),
    ]


class TooManyLexicons(Exception):
    """The account and region already hold the most lexicons allowed."""


class LexiconStore:
    def __init__(self, path: Path, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> None:
        """`account` and `region` are the server's defaults, where lexicons from before regions go."""
        self.db = Database(path, migrations(account, region))

    def close(self) -> None:
        self.db.close()

    def put(
        self,
        name: str,
        content: str,
        *,
        alphabet: str,
        language: str,
        lexemes: int,
        limit: int,
        where: Where,
    ) -> None:
        """Store or replace the lexicon; TooManyLexicons if it is new and `limit` are stored already."""
        with self.db.transaction() as tx:
            count = tx.execute(
                "SELECT count(*) FROM lexicons WHERE account = ? AND region = ? AND name != ?", (*where, name)
            ).fetchone()[0]
            if count >= limit:
                raise TooManyLexicons(name)
            tx.execute(
                "INSERT OR REPLACE INTO lexicons (name, content, alphabet, language, lexemes, size, modified,"
                " account, region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, content, alphabet, language, lexemes, len(content), time.time(), *where),
            )

    def get(self, name: str, *, where: Where) -> sqlite3.Row | None:
        with self.db.read() as conn:
            row: sqlite3.Row | None = conn.execute(
                "SELECT * FROM lexicons WHERE account = ? AND region = ? AND name = ?", (*where, name)
            ).fetchone()
        return row

    def all(self, *, where: Where) -> list[sqlite3.Row]:
        with self.db.read() as conn:
            return conn.execute(
                "SELECT * FROM lexicons WHERE account = ? AND region = ? ORDER BY name", where
            ).fetchall()

    def delete(self, name: str, *, where: Where) -> bool:
        with self.db.transaction() as tx:
            cursor = tx.execute(
                "DELETE FROM lexicons WHERE account = ? AND region = ? AND name = ?", (*where, name)
            )
            return cursor.rowcount > 0
