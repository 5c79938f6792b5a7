"""CloudWatch Logs' data keys on the KMS keyring: the `LogDataKeys` the log store encrypts events with.

A key that does not exist here (or is another region's) is refused as CloudWatch Logs refuses it, naming
the log group's ARN; a disabled key, or one pending deletion, stops association, and later stops every
read and write of the events it encrypted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from outcrop.kms.keys import Keyring, KmsError
from outcrop.storage.logs import AccessDeniedException, InvalidParameterException

ARN_KEY = "aws:logs:arn"  # the encryption context CloudWatch Logs gives KMS: the log group's ARN


class KmsLogKeys:
    def __init__(self, keyring: Callable[[], Keyring]) -> None:
        """`keyring` opens the server's KMS keyring on first use."""
        self._keyring = keyring

    def new_data_key(
        self, account: str, region: str, key_ref: str, context: Mapping[str, str]
    ) -> tuple[str, bytes]:
        keyring = self._keyring()
        try:
            key = keyring.resolve(account, region, key_ref)
        except KmsError as exc:
            raise AccessDeniedException(
                "The specified KMS key does not exist or is not allowed to be used with Arn "
                f"'{context[ARN_KEY]}'"
            ) from exc
        try:
            _, sealed = keyring.data_key(key, 32, dict(context))
        except KmsError as exc:  # disabled, pending deletion, or not a symmetric encryption key
            raise InvalidParameterException(f"The specified KMS key cannot be used: {exc.message}") from exc
        return key.arn, sealed

    def open_data_key(self, account: str, region: str, sealed: bytes, context: Mapping[str, str]) -> bytes:
        try:
            clear, _ = self._keyring().decrypt(account, region, sealed, dict(context))
        except KmsError as exc:
            raise AccessDeniedException(
                f"The KMS key that encrypts the data of log group '{context[ARN_KEY]}' cannot be used: "
                f"{exc.message}"
            ) from exc
        return clear
