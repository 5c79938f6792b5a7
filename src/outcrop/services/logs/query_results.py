"""Logs Insights results under a customer managed key: AssociateKmsKey with the resource identifier
`arn:aws:logs:REGION:ACCOUNT:query-result:*` makes every later query of that account and region keep its
results sealed under a data key of that key (encryption context `aws:logs:arn` = the query's result ARN),
and GetQueryResults opens them through KMS, so a disabled key stops reading them, as on AWS.

The association is checked as a log group's is (the key's policy must let the Logs service principal use
it) and lives in SQLite under the data dir; results themselves are kept in memory, as queries are.
"""

from __future__ import annotations

import json
from pathlib import Path

from outcrop.kms.sealed import seal, unseal
from outcrop.services.logs.errors import AccessDeniedException, InvalidParameterException
from outcrop.services.logs.kms import ARN_KEY, KmsLogKeys
from outcrop.storage.logs import LogStoreError
from outcrop.storage.sqlite import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "0001_query_result_keys",
        """
        CREATE TABLE query_result_keys (
            account TEXT NOT NULL, region TEXT NOT NULL, kms_key TEXT NOT NULL, PRIMARY KEY (account, region)
        )
        """,
    ),
]
Rows = list[list[dict[str, str]]]


def result_arn(account: str, region: str, query_id: str = "*") -> str:
    return f"arn:aws:logs:{region}:{account}:query-result:{query_id}"


def _as_service_error(exc: LogStoreError) -> AccessDeniedException | InvalidParameterException:
    if exc.code == "AccessDeniedException":
        return AccessDeniedException(str(exc))
    return InvalidParameterException(str(exc))


class QueryResultKeys:
    def __init__(self, root: Path, keys: KmsLogKeys) -> None:
        self.db = Database(root / "query-result-keys.sqlite3", MIGRATIONS)
        self.keys = keys

    def close(self) -> None:
        self.db.close()

    def key(self, account: str, region: str) -> str | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT kms_key FROM query_result_keys WHERE account = ? AND region = ?", (account, region)
            ).fetchone()
        return None if row is None else str(row["kms_key"])

    def associate(self, account: str, region: str, key_ref: str) -> None:
        """Checked as CloudWatch Logs checks a key: it exists here, its policy lets Logs use it, and KMS makes
        a data key with it now."""
        try:
            arn, _ = self.keys.new_data_key(account, region, key_ref, {ARN_KEY: result_arn(account, region)})
        except LogStoreError as exc:
            raise _as_service_error(exc) from exc
        with self.db.transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO query_result_keys VALUES (?, ?, ?)", (account, region, arn))

    def disassociate(self, account: str, region: str) -> None:
        with self.db.transaction() as tx:
            gone = tx.execute(
                "DELETE FROM query_result_keys WHERE account = ? AND region = ?", (account, region)
            ).rowcount
        if not gone:
            raise InvalidParameterException("Query results are not associated with a KMS key.")

    def sealer(self, account: str, region: str, query_id: str) -> tuple[str, bytes, bytes] | None:
        """For a query starting now: (the key's ARN, its data key in the clear, the same sealed), or None
        when the account's results take no key."""
        kms_key = self.key(account, region)
        if kms_key is None:
            return None
        context = {ARN_KEY: result_arn(account, region, query_id)}
        try:
            arn, sealed = self.keys.new_data_key(account, region, kms_key, context)
            return arn, self.keys.open_data_key(account, region, sealed, context), sealed
        except LogStoreError as exc:
            raise _as_service_error(exc) from exc

    @staticmethod
    def seal_rows(clear_key: bytes, rows: Rows) -> bytes:
        return seal(clear_key, json.dumps(rows).encode())

    def open_rows(self, account: str, region: str, query_id: str, sealed_key: bytes, blob: bytes) -> Rows:
        context = {ARN_KEY: result_arn(account, region, query_id)}
        try:
            clear = self.keys.open_data_key(account, region, sealed_key, context)
        except LogStoreError as exc:
            raise _as_service_error(exc) from exc
        rows: Rows = json.loads(unseal(clear, blob))
        return rows
