"""Named-migration steps that move a store made before regions into the (account, region) partitions.

A table whose name was unique server-wide (a job name, a vocabulary, a lexicon, a trail) is unique per
account and region on AWS, which SQLite can only express by rebuilding the table: the rows are copied
into the new shape, placed in the server's default account and region (or where `place` says), and the
old table is dropped. Only for tables no foreign key points at: dropping a parent would cascade.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Where = tuple[str, str]
"""(account, region): where a resource lives."""

Placer = Callable[[sqlite3.Row], Where | None]
"""Where an old row belongs (from its ARN, say), or None for the server's defaults."""


def rebuild(
    tx: sqlite3.Connection,
    table: str,
    schema: str,
    default: Where,
    *,
    indexes: tuple[str, ...] = (),
    place: Placer | None = None,
) -> None:
    """Replace `table` by `schema` (CREATE TABLE {table}_new ... with `account` and `region` columns),
    copying every row; then create `indexes` on the new table."""
    old = [row["name"] for row in tx.execute(f"PRAGMA table_info({table})")]
    tx.execute(schema)
    columns = ", ".join([*old, "account", "region"])
    marks = ", ".join("?" * (len(old) + 2))
    for row in tx.execute(f"SELECT * FROM {table}").fetchall():
        where = (place(row) if place else None) or default
        tx.execute(f"INSERT INTO {table}_new ({columns}) VALUES ({marks})", (*[row[c] for c in old], *where))
    tx.execute(f"DROP TABLE {table}")
    tx.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    for index in indexes:
        tx.execute(index)


def arn_place(arn: object) -> Where | None:
    """The (account, region) an ARN names, if it names both."""
    fields = str(arn or "").split(":")
    if len(fields) > 5 and fields[3] and fields[4]:
        return fields[4], fields[3]
    return None
