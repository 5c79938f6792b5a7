"""Log events of a group with a KMS key (CloudWatch Logs' `kmsKeyId`), stored encrypted.

Associating a key makes a data key under it (GenerateDataKey, encryption context `aws:logs:arn` = the
group's ARN, as CloudWatch Logs uses) and keeps it only sealed; each event ingested while the key is
associated is AES-256-GCM under that data key, so its plaintext is nowhere in the data dir. Every read or
write opens the data key through KMS again, so a disabled or deleted key stops them, as on AWS. Events
ingested before the association stay as they were; those ingested under a key that was later
disassociated still need that key.
"""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from outcrop.storage.logs import InvalidParameterException, LogDataKeys, LogEvent

MIGRATION = (
    "0003_kms",
    """
    CREATE TABLE data_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, region TEXT NOT NULL,
        group_name TEXT NOT NULL, kms_key TEXT NOT NULL, sealed BLOB NOT NULL
    );
    ALTER TABLE groups ADD COLUMN data_key INTEGER;
    ALTER TABLE events ADD COLUMN data_key INTEGER
    """,
)
_NONCE = 12


def group_arn(scope: tuple[str, str], group: str) -> str:
    return f"arn:aws:logs:{scope[1]}:{scope[0]}:log-group:{group}"


class Sealer:
    """Seals and opens one store's events; without data keys (no KMS) a key is refused, never ignored."""

    def __init__(self, data_keys: LogDataKeys | None) -> None:
        self.data_keys = data_keys

    def _keys(self) -> LogDataKeys:
        if self.data_keys is None:
            raise InvalidParameterException("This log store has no KMS: kmsKeyId cannot be honoured.")
        return self.data_keys

    def associate(self, tx: sqlite3.Connection, scope: tuple[str, str], group: str, key_ref: str) -> None:
        """A new data key under `key_ref` for what the group ingests from now on."""
        arn = group_arn(scope, group)
        key_arn, sealed = self._keys().new_data_key(*scope, key_ref, {"aws:logs:arn": arn})
        made = tx.execute(
            "INSERT INTO data_keys (account, region, group_name, kms_key, sealed) VALUES (?, ?, ?, ?, ?)",
            (*scope, group, key_arn, sealed),
        )
        tx.execute(
            "UPDATE groups SET kms_key_id = ?, data_key = ? WHERE account = ? AND region = ? AND name = ?",
            (key_arn, made.lastrowid, *scope, group),
        )

    def _open(self, conn: sqlite3.Connection, scope: tuple[str, str], group: str, key_id: int) -> bytes:
        row = conn.execute("SELECT sealed FROM data_keys WHERE id = ?", (key_id,)).fetchone()
        return self._keys().open_data_key(*scope, bytes(row[0]), {"aws:logs:arn": group_arn(scope, group)})

    def seal(
        self,
        tx: sqlite3.Connection,
        scope: tuple[str, str],
        group: str,
        key_id: int | None,
        messages: Sequence[str],
    ) -> list[str]:
        """The messages as stored: in the clear without a key, else each one sealed under its own nonce."""
        if key_id is None:
            return list(messages)
        cipher = AESGCM(self._open(tx, scope, group, key_id))
        sealed = []
        for message in messages:
            nonce = os.urandom(_NONCE)
            sealed.append(base64.b64encode(nonce + cipher.encrypt(nonce, message.encode(), None)).decode())
        return sealed

    def event(
        self, conn: sqlite3.Connection, scope: tuple[str, str], row: sqlite3.Row, opened: dict[int, AESGCM]
    ) -> LogEvent:
        """A stored row as an event; `opened` keeps the data keys one call has opened."""
        message = row["message"]
        key_id = row["data_key"]
        if key_id is not None:
            if key_id not in opened:
                opened[key_id] = AESGCM(self._open(conn, scope, row["group_name"], key_id))
            blob = base64.b64decode(message)
            try:
                message = opened[key_id].decrypt(blob[:_NONCE], blob[_NONCE:], None).decode()
            except InvalidTag as exc:
                raise InvalidParameterException("A stored log event failed its integrity check.") from exc
        return LogEvent(row["stream"], row["timestamp"], message, row["ingestion"], row["id"])
