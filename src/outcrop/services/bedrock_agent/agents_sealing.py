"""An agent's customer managed key (`customerEncryptionKeyArn`): what of its records the agent store seals.

As AWS lists for agents with a customer managed key: the agent's instruction and prompt templates, its
action groups (descriptions and schemas), its knowledge-base associations, the versions and prepared
snapshots that copy them, and the runtime's session state and memory summaries. Names, ids, ARNs, statuses
and aliases stay in the clear, so ListAgents still answers while a key is disabled; reading sealed data
does not. The data key's encryption context is `aws:bedrock:arn` = the agent's ARN, as Bedrock gives KMS.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from outcrop.kms.errors import KmsError
from outcrop.kms.sealed import CustomerKeys, seal_text, unseal_text
from outcrop.protocol.errors import AccessDeniedException

MIGRATION = (
    "0003_customer_keys",
    """
    CREATE TABLE agent_keys (
        agent TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, agent_arn TEXT NOT NULL,
        kms_key TEXT NOT NULL, sealed BLOB NOT NULL
    )
    """,
)
CONTEXT_KEY = "aws:bedrock:arn"
SEALED_FIELDS = {"agent": ("instruction", "promptOverrideConfiguration")}  # the rest of an agent is listed
WHOLE = frozenset({"prepared", "version", "group", "kb"})  # records sealed whole
MARK = "_sealed"


class AgentSealer:
    """Seals and opens one agent's data with its data key; without KMS a key is refused, never ignored."""

    def __init__(self, keys: CustomerKeys | None) -> None:
        self.keys = keys

    def _keys(self) -> CustomerKeys:
        if self.keys is None:
            raise KmsError("This server has no KMS keyring: customerEncryptionKeyArn cannot be honoured.")
        return self.keys

    def new_key(self, where: tuple[str, str], agent_arn: str, key_ref: str) -> tuple[str, bytes, bytes]:
        """(the key's ARN, the clear data key, the sealed one); KmsError where KMS refuses the key."""
        return self._keys().new_data_key(*where, key_ref, {CONTEXT_KEY: agent_arn})

    def data_key(self, conn: sqlite3.Connection, agent: str) -> bytes | None:
        """The agent's data key, opened through KMS now; None for an agent without a customer key."""
        row = conn.execute("SELECT * FROM agent_keys WHERE agent = ?", (agent,)).fetchone()
        if row is None:
            return None
        try:
            return self._keys().open_data_key(
                row["account"], row["region"], bytes(row["sealed"]), {CONTEXT_KEY: row["agent_arn"]}
            )
        except KmsError as exc:
            raise AccessDeniedException(
                f"Amazon Bedrock cannot decrypt the data of agent {agent} with the KMS key {row['kms_key']}: "
                f"{exc.code}: {exc.message}"
            ) from exc

    @staticmethod
    def seal_body(kind: str, body: dict[str, Any], key: bytes | None) -> dict[str, Any]:
        """The body as stored: its sealed part replaced by one blob under `key` (as given without one)."""
        body = {k: v for k, v in body.items() if k != MARK}
        if key is None:
            return body
        secret_fields = SEALED_FIELDS.get(kind, tuple(body) if kind in WHOLE else ())
        secret = {k: body.pop(k) for k in secret_fields if k in body}
        if not secret:
            return body
        return {**body, MARK: seal_text(key, json.dumps(secret))}

    @staticmethod
    def open_body(body: dict[str, Any], key: bytes | None) -> dict[str, Any]:
        if MARK not in body or key is None:
            return body
        secret = json.loads(unseal_text(key, body[MARK]))
        return {**{k: v for k, v in body.items() if k != MARK}, **secret}

    @staticmethod
    def seal_text(text: str, key: bytes | None) -> str:
        return text if key is None else seal_text(key, text)

    @staticmethod
    def open_text(text: str, key: bytes | None) -> str:
        return text if key is None else unseal_text(key, text)
