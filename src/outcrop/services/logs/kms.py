"""CloudWatch Logs' data keys on the KMS keyring: the `LogDataKeys` the log store encrypts events with.

A key that does not exist here (or is another region's), or whose policy does not let the Logs service
principal use it, is refused as CloudWatch Logs refuses it, naming the log group's ARN; a disabled key,
or one pending deletion, stops association, and later stops every read and write of the events it
encrypted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from outcrop.iam.errors import MalformedPolicyDocument
from outcrop.iam.evaluate import Principal, evaluate
from outcrop.iam.store_policies import compiled
from outcrop.kms.keys import Keyring, KmsError
from outcrop.kms.store import KeyRecord
from outcrop.storage.logs import AccessDeniedException, InvalidParameterException

ARN_KEY = "aws:logs:arn"  # the encryption context CloudWatch Logs gives KMS: the log group's ARN
SERVICE_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")  # what CloudWatch Logs does with the key


def logs_may_use(key: KeyRecord, account: str, region: str, context: Mapping[str, str]) -> bool:
    """Whether the key's policy lets the CloudWatch Logs service principal (`logs.<region>.amazonaws.com`)
    make and open data keys with this encryption context, as AWS checks when a group takes a key: the
    default key policy (the account's root only) does not."""
    try:
        policy = compiled(key.policy, "resource")
    except MalformedPolicyDocument:
        return False
    service = Principal(kind="service", arn=f"logs.{region}.amazonaws.com", account="", user_id="")
    keys = {f"kms:encryptioncontext:{k.lower()}": [v] for k, v in context.items()}
    facts = {
        **keys,
        "kms:encryptioncontextkeys": list(context),
        "kms:calleraccount": [account],
        "aws:sourceaccount": [account],
        "aws:sourcearn": list(context.values()),
    }
    return all(
        evaluate(service, action, key.arn, facts, policy, resource_required=True).allowed
        for action in SERVICE_ACTIONS
    )


class KmsLogKeys:
    def __init__(self, keyring: Callable[[], Keyring]) -> None:
        """`keyring` opens the server's KMS keyring on first use."""
        self._keyring = keyring

    def new_data_key(
        self, account: str, region: str, key_ref: str, context: Mapping[str, str]
    ) -> tuple[str, bytes]:
        keyring = self._keyring()
        refused = AccessDeniedException(
            f"The specified KMS key does not exist or is not allowed to be used with Arn '{context[ARN_KEY]}'"
        )
        try:
            key = keyring.resolve(account, region, key_ref)
        except KmsError as exc:
            raise refused from exc
        if not logs_may_use(key, account, region, context):
            raise refused
        try:
            _, sealed = keyring.data_key(key, 32, dict(context))
        except KmsError as exc:  # disabled, pending deletion, or not a symmetric encryption key
            raise InvalidParameterException(f"The specified KMS key cannot be used: {exc.message}") from exc
        return key.arn, sealed

    def open_data_key(self, account: str, region: str, sealed: bytes, context: Mapping[str, str]) -> bytes:
        try:
            clear, _ = self._keyring().decrypt(account, region, sealed, dict(context))
        except KmsError as exc:
            arn = context[ARN_KEY]
            what = "query results" if ":query-result:" in arn else "log group"
            raise AccessDeniedException(
                f"The KMS key that encrypts the data of {what} '{arn}' cannot be used: {exc.message}"
            ) from exc
        return clear
