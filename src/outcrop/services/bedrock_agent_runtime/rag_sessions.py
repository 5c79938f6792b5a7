"""RetrieveAndGenerate's conversation turns, sealed under the caller's KMS key when the session has one.

`sessionConfiguration.kmsKeyArn` names the key that encrypts a session. The first call of a session makes a
data key under it (encryption context `aws:bedrock:session` = the session id) and the turns are stored as
AES-256-GCM under that data key; every later call opens the data key through KMS again, so a disabled or
deleted key makes the session unreadable at once. A session made with a key must be continued with the same
key, and one made without a key cannot take one later (AWS binds the key to the session when it is made).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from outcrop.kms.errors import KmsError
from outcrop.kms.keys import Keyring
from outcrop.kms.sealed import CustomerKeys, seal_text, unseal_text
from outcrop.protocol.errors import AccessDeniedException, ValidationException
from outcrop.rag.kbstore import KnowledgeBaseStore

CONTEXT_KEY = "aws:bedrock:session"
Turns = list[dict[str, str]]


class RagSessions:
    """Turns of RetrieveAndGenerate sessions in the knowledge-base store, sealed where a key was given."""

    def __init__(self, store: KnowledgeBaseStore, keyring: Callable[[], Keyring]) -> None:
        self.store = store
        self.keys = CustomerKeys(keyring)

    def turns(self, session_id: str, key_ref: str | None, where: tuple[str, str]) -> Turns | None:
        """The session's turns (None: no such session); a key that differs from the session's, or one KMS
        will not use, is refused as AWS refuses it."""
        saved = self.store.session_turns(session_id)
        if saved is None or isinstance(saved, list):
            if saved is not None and key_ref:
                raise ValidationException(
                    f"Session {session_id} was created without a KMS key; it cannot take one now."
                )
            return saved
        if not key_ref:
            raise ValidationException(
                f"Session {session_id} is encrypted: give its key as sessionConfiguration.kmsKeyArn."
            )
        clear = self._data_key(session_id, saved, key_ref, where)
        turns: Turns = json.loads(unseal_text(clear, saved["sealed"]))
        return turns

    def save(self, session_id: str, turns: Turns, key_ref: str | None, where: tuple[str, str]) -> None:
        if not key_ref:
            self.store.save_session(session_id, turns)
            return
        saved = self.store.session_turns(session_id)
        if isinstance(saved, dict):  # the session's data key, opened again for this write
            clear = self._data_key(session_id, saved, key_ref, where)
            sealed_key, arn = saved["dataKey"], saved["kmsKeyArn"]
        else:
            account, region = where
            try:
                arn, clear, sealed = self.keys.new_data_key(
                    account, region, key_ref, {CONTEXT_KEY: session_id}
                )
            except KmsError as exc:
                raise ValidationException(
                    f"The KMS key {key_ref} cannot encrypt the session: {exc.code}: {exc.message}"
                ) from exc
            sealed_key = base64.b64encode(sealed).decode()
        body = seal_text(clear, json.dumps(turns))
        self.store.save_session(session_id, {"kmsKeyArn": arn, "dataKey": sealed_key, "sealed": body})

    def _data_key(
        self, session_id: str, saved: dict[str, Any], key_ref: str, where: tuple[str, str]
    ) -> bytes:
        account, region = where
        try:
            wanted = self.keys.resolve_arn(account, region, key_ref)
        except KmsError as exc:
            raise ValidationException(
                f"The KMS key {key_ref} cannot be used: {exc.code}: {exc.message}"
            ) from exc
        if wanted != saved["kmsKeyArn"]:
            raise ValidationException(f"Session {session_id} is encrypted with another KMS key.")
        try:
            return self.keys.open_data_key(
                account, region, base64.b64decode(saved["dataKey"]), {CONTEXT_KEY: session_id}
            )
        except KmsError as exc:
            raise AccessDeniedException(
                f"The session's KMS key {saved['kmsKeyArn']} cannot be used: {exc.code}: {exc.message}"
            ) from exc
