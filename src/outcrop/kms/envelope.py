"""Envelope encryption for stores that keep data encrypted at rest (S3's SSE-S3 and SSE-KMS).

Each object gets its own data key from KMS; the object store keeps the data key only sealed under a KMS
key, so reading the object asks KMS again, and a disabled or deleted key makes the object unreadable, as
on AWS. SSE-KMS uses the caller's key (or the account's `alias/aws/s3` key); SSE-S3 uses a key that S3
owns, kept in the same key store under an account no caller has, so it is listed nowhere.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping

from outcrop.kms.keys import Keyring, KmsError
from outcrop.kms.store import KeyRecord

S3_OWNED_ACCOUNT = "outcrop-s3-owned"  # not a 12-digit account id: no request can name it


class InvalidEncryptionContext(KmsError):
    """SSEKMSEncryptionContext is not base64 of a JSON object of strings."""


class KmsDataKeys:
    """DataKeys (see `outcrop.storage.objects`) on the keyring; the keyring is opened on first use."""

    def __init__(self, keyring: Callable[[], Keyring], account: str) -> None:
        self._keyring = keyring
        self._account = account

    def new_data_key(
        self, encryption: Mapping[str, str], region: str, context: Mapping[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        key = self._key(encryption, region)
        fields = {k: v for k, v in encryption.items() if k != "DataKey"}
        if encryption["ServerSideEncryption"] == "aws:kms":
            fields["SSEKMSKeyId"] = key.arn
        clear, sealed = self._keyring().data_key(key, 32, self._context(encryption, context))
        fields["DataKey"] = base64.b64encode(sealed).decode()
        return clear, fields

    def open_data_key(self, encryption: Mapping[str, str], region: str, context: Mapping[str, str]) -> bytes:
        account = self._account if encryption["ServerSideEncryption"] == "aws:kms" else S3_OWNED_ACCOUNT
        sealed = base64.b64decode(encryption["DataKey"])
        clear, _ = self._keyring().decrypt(account, region, sealed, self._context(encryption, context))
        return clear

    def _key(self, encryption: Mapping[str, str], region: str) -> KeyRecord:
        keyring = self._keyring()
        if encryption["ServerSideEncryption"] != "aws:kms":
            return keyring.aws_managed_key(S3_OWNED_ACCOUNT, region, "s3")
        ref = encryption.get("SSEKMSKeyId")
        if not ref:
            return keyring.aws_managed_key(self._account, region, "s3")
        return keyring.resolve(self._account, region, ref)

    @staticmethod
    def _context(encryption: Mapping[str, str], context: Mapping[str, str]) -> dict[str, str]:
        given = encryption.get("SSEKMSEncryptionContext")
        if not given:
            return dict(context)
        try:
            extra = json.loads(base64.b64decode(given, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise InvalidEncryptionContext("The encryption context is not base64-encoded JSON.") from exc
        if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
            raise InvalidEncryptionContext("The encryption context must be a JSON object of strings.")
        return {**extra, **context}
