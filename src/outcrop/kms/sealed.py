"""Customer managed keys for stores that keep a service's data sealed at rest (agents, knowledge-base chunks,
Logs Insights results).

A store makes one data key per resource under the customer's KMS key (GenerateDataKey, with the encryption
context the AWS service gives KMS) and keeps it only sealed; each value it stores is AES-256-GCM under that
data key. Every read opens the data key through KMS again, so a disabled key, or one pending deletion or
deleted, makes the data unreadable at once, as on AWS. KMS's refusals come out as `KmsError`s: each service
words them as it answers.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from outcrop.kms.errors import InvalidCiphertextException
from outcrop.kms.keys import Keyring

_NONCE = 12


class CustomerKeys:
    """Data keys under a customer's KMS key, and values sealed with them; the keyring opens on first use."""

    def __init__(self, keyring: Callable[[], Keyring]) -> None:
        self._keyring = keyring

    def new_data_key(
        self, account: str, region: str, key_ref: str, context: Mapping[str, str]
    ) -> tuple[str, bytes, bytes]:
        """(the KMS key's ARN, a new data key in the clear, the same sealed under the KMS key); KmsError
        where KMS refuses the key (unknown, disabled, pending deletion, not for encryption)."""
        keyring = self._keyring()
        key = keyring.resolve(account, region, key_ref)
        clear, sealed = keyring.data_key(key, 32, dict(context))
        return key.arn, clear, sealed

    def resolve_arn(self, account: str, region: str, key_ref: str) -> str:
        """The ARN of the key `key_ref` names (an id, ARN or alias); KmsError where KMS knows none."""
        return self._keyring().resolve(account, region, key_ref).arn

    def open_data_key(self, account: str, region: str, sealed: bytes, context: Mapping[str, str]) -> bytes:
        clear, _ = self._keyring().decrypt(account, region, sealed, dict(context))
        return clear


def seal(data_key: bytes, plaintext: bytes) -> bytes:
    """`plaintext` under `data_key`: a fresh nonce, then AES-256-GCM's ciphertext and tag."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, None)


def seal_text(data_key: bytes, text: str) -> str:
    """`text` sealed under `data_key`, as base64 for a text column or a JSON document."""
    return base64.b64encode(seal(data_key, text.encode())).decode()


def unseal_text(data_key: bytes, sealed: str) -> str:
    """What `seal_text` sealed."""
    return unseal(data_key, base64.b64decode(sealed)).decode()


def unseal(data_key: bytes, blob: bytes) -> bytes:
    try:
        return AESGCM(data_key).decrypt(blob[:_NONCE], blob[_NONCE:], None)
    except (InvalidTag, ValueError) as exc:
        raise InvalidCiphertextException("A stored value failed its integrity check.") from exc
