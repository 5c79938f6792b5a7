"""The keyring: KMS's rules over the key store. Key states, aliases, encryption, rotation and deletion.

Time-driven changes happen when a key is next looked up, which is when they can first be observed: a key
whose waiting period ended is deleted, and a key whose rotation date passed gets new material. Errors are
named as KMS's error codes, so the service passes them through (as the object store does for S3).
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from outcrop.kms import asymmetric, crypto
from outcrop.kms.errors import (  # re-exported: the keyring's callers catch them from here
    AlreadyExistsException as AlreadyExistsException,
)
from outcrop.kms.errors import (
    DisabledException as DisabledException,
)
from outcrop.kms.errors import (
    IncorrectKeyException as IncorrectKeyException,
)
from outcrop.kms.errors import (
    InvalidAliasNameException as InvalidAliasNameException,
)
from outcrop.kms.errors import (
    InvalidCiphertextException as InvalidCiphertextException,
)
from outcrop.kms.errors import (
    InvalidKeyUsageException as InvalidKeyUsageException,
)
from outcrop.kms.errors import (
    KmsError as KmsError,
)
from outcrop.kms.errors import (
    KMSInvalidStateException as KMSInvalidStateException,
)
from outcrop.kms.errors import (
    MalformedPolicyDocumentException as MalformedPolicyDocumentException,
)
from outcrop.kms.errors import (
    NotFoundException as NotFoundException,
)
from outcrop.kms.errors import (
    UnsupportedOperationException as UnsupportedOperationException,
)
from outcrop.kms.errors import (
    ValidationException as ValidationException,
)
from outcrop.kms.store import KeyRecord, KeyStore

DAY = 86400.0
ALIAS_NAME = re.compile(r"^alias/[a-zA-Z0-9/_-]+$")
KEY_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def default_policy(account: str) -> str:
    """The key policy KMS gives a key created without one: the account's IAM policies decide."""
    statement = {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [statement]}, indent=2)


def check_policy(policy: str) -> None:
    """A key policy must be a JSON object with statements; its evaluation belongs to `auth = "iam"`."""
    try:
        document = json.loads(policy)
    except ValueError as exc:
        raise MalformedPolicyDocumentException(
            "The new key policy will not allow you to update the key policy in the future."
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list | dict):
        raise MalformedPolicyDocumentException("The key policy is not a JSON object with a Statement.")


class Keyring:
    def __init__(self, store: KeyStore, master: bytes, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._master = master
        self._clock = clock

    def close(self) -> None:
        self.store.close()

    # -- keys ---------------------------------------------------------------------------------------------

    def create_key(
        self,
        account: str,
        region: str,
        *,
        description: str = "",
        policy: str | None = None,
        tags: dict[str, str] | None = None,
        manager: str = "CUSTOMER",
        key_spec: str = asymmetric.SYMMETRIC,
        key_usage: str = "ENCRYPT_DECRYPT",
    ) -> KeyRecord:
        asymmetric.check_spec(key_spec, key_usage)
        if policy is not None:
            check_policy(policy)
        key_id = str(uuid.uuid4())
        now = self._clock()
        key = KeyRecord(
            key_id=key_id,
            account=account,
            region=region,
            arn=f"arn:aws:kms:{region}:{account}:key/{key_id}",
            description=description,
            key_usage=key_usage,
            key_spec=key_spec,
            origin="AWS_KMS",
            manager=manager,
            state="Enabled",
            created=now,
            deletion_date=None,
            pending_days=None,
            rotation_enabled=manager == "AWS",  # AWS managed keys rotate every year
            rotation_days=365,
            next_rotation=now + 365 * DAY if manager == "AWS" else None,
            policy=policy or default_policy(account),
            current_version=1,
        )
        material = (
            crypto.new_material() if key_spec == asymmetric.SYMMETRIC else asymmetric.new_material(key_spec)
        )
        self.store.insert_key(key, crypto.wrap(self._master, key_id, 1, material), tags or {})
        return key

    def resolve(self, account: str, region: str, ref: str, *, aliases: bool = True) -> KeyRecord:
        """The key a KeyId names: a key id, a key ARN, an alias name or an alias ARN (where allowed)."""
        key_id = ref
        if ref.startswith("arn:"):
            parts = ref.split(":", 5)
            if len(parts) < 6 or parts[2] != "kms" or (parts[3], parts[4]) != (region, account):
                raise NotFoundException(
                    f"Invalid arn {ref}" if len(parts) < 6 else f"Key '{ref}' does not exist"
                )
            key_id = parts[5]
            if key_id.startswith("key/"):
                key_id = key_id[4:]
        if key_id.startswith("alias/"):
            alias = self.store.alias(account, region, key_id) if aliases else None
            if alias is None:
                if not aliases:
                    raise NotFoundException(f"Invalid keyId {ref}")
                raise NotFoundException(f"Alias arn:aws:kms:{region}:{account}:{key_id} is not found.")
            key_id = alias.key_id
        key = self.store.key(key_id) if KEY_ID.match(key_id) else None
        if key is None or (key.account, key.region) != (account, region):
            raise NotFoundException(f"Key 'arn:aws:kms:{region}:{account}:key/{key_id}' does not exist")
        return self._refresh(key)

    def keys(self, account: str, region: str) -> list[KeyRecord]:
        return [self._refresh(key) for key in self.store.keys(account, region) if self._alive(key)]

    def aws_managed_key(self, account: str, region: str, service: str) -> KeyRecord:
        """The key behind `alias/aws/<service>`, made on the first call that needs it, as AWS does."""
        name = f"alias/aws/{service}"
        alias = self.store.alias(account, region, name)
        if alias is not None:
            return self.resolve(account, region, alias.key_id)
        description = f"Default key that protects my {service.upper()} data when no other key is defined"
        key = self.create_key(account, region, description=description, manager="AWS")
        if not self.store.put_alias(account, region, name, key.key_id, self._clock(), new=True):
            self.store.delete_key(key.key_id)  # another request made it first
            return self.resolve(account, region, name)
        return key

    def set_enabled(self, key: KeyRecord, enabled: bool) -> None:
        self._require_not_pending(key)
        self.store.update_key(key.key_id, state="Enabled" if enabled else "Disabled")

    def schedule_deletion(self, key: KeyRecord, days: int) -> KeyRecord:
        self._require_customer(key)
        if key.state == "PendingDeletion":
            raise KMSInvalidStateException(f"{key.arn} is pending deletion.")
        when = self._clock() + days * DAY
        self.store.update_key(key.key_id, state="PendingDeletion", deletion_date=when, pending_days=days)
        return replace(key, state="PendingDeletion", deletion_date=when, pending_days=days)

    def cancel_deletion(self, key: KeyRecord) -> None:
        if key.state != "PendingDeletion":
            raise KMSInvalidStateException(f"{key.arn} is not pending deletion.")
        self.store.update_key(key.key_id, state="Disabled", deletion_date=None, pending_days=None)

    def set_rotation(self, key: KeyRecord, enabled: bool, days: int | None = None) -> None:
        self._require_customer(key)
        self._require_symmetric(key, "Automatic rotation")
        self._require_enabled(key)
        period = days or key.rotation_days
        next_at = self._clock() + period * DAY if enabled else None
        self.store.update_key(
            key.key_id, rotation_enabled=int(enabled), rotation_days=period, next_rotation=next_at
        )

    def rotate(self, key: KeyRecord, kind: str = "ON_DEMAND") -> KeyRecord:
        """New material becomes current; every older version stays, so old ciphertexts still decrypt."""
        self._require_customer(key)
        self._require_symmetric(key, "On-demand rotation")
        self._require_enabled(key)
        return self._add_version(key, kind)

    def update_description(self, key: KeyRecord, description: str) -> None:
        self._require_not_pending(key)
        self.store.update_key(key.key_id, description=description)

    def put_policy(self, key: KeyRecord, policy: str) -> None:
        check_policy(policy)
        self._require_not_pending(key)
        self.store.update_key(key.key_id, policy=policy)

    # -- cryptography -------------------------------------------------------------------------------------

    def encrypt(self, key: KeyRecord, plaintext: bytes, context: dict[str, str]) -> bytes:
        self._require_usage(key, "ENCRYPT_DECRYPT", symmetric=True)
        material = self._material(key, key.current_version)
        return crypto.encrypt(material, key.key_id, key.current_version, plaintext, context)

    def decrypt(
        self, account: str, region: str, blob: bytes, context: dict[str, str], key_ref: str | None = None
    ) -> tuple[bytes, KeyRecord]:
        """The plaintext of a blob and the key that made it; the blob names its key, a KeyId only checks."""
        try:
            header = crypto.read_header(blob)
        except crypto.CiphertextError as exc:
            raise InvalidCiphertextException("The ciphertext is not valid.") from exc
        try:
            key = self.resolve(account, region, header.key_id)
        except NotFoundException as exc:
            raise InvalidCiphertextException(
                "The ciphertext refers to a key that does not exist here."
            ) from exc
        if key_ref is not None and self.resolve(account, region, key_ref).key_id != key.key_id:
            raise IncorrectKeyException(
                "The key ID in the request does not identify a CMK that can perform this operation."
            )
        self._require_usage(key, "ENCRYPT_DECRYPT", symmetric=True)
        try:
            material = self._material(key, header.version)
            return crypto.decrypt(material, blob, context), key
        except (crypto.CiphertextError, NotFoundException) as exc:
            raise InvalidCiphertextException(
                "The ciphertext or its encryption context is not valid."
            ) from exc

    def data_key(self, key: KeyRecord, size: int, context: dict[str, str]) -> tuple[bytes, bytes]:
        """A fresh data key, in the clear and encrypted under `key` (GenerateDataKey)."""
        plaintext = secrets.token_bytes(size)
        return plaintext, self.encrypt(key, plaintext, context)

    def private_material(self, key: KeyRecord, usage: str) -> bytes:
        """An asymmetric or HMAC key's material for `usage` (Sign, Verify, GenerateMac, RSA encryption)."""
        self._require_usage(key, usage, symmetric=False)
        return self._material(key, key.current_version)

    # -- internals ----------------------------------------------------------------------------------------

    def _material(self, key: KeyRecord, version: int) -> bytes:
        wrapped = self.store.wrapped(key.key_id, version)
        if wrapped is None:
            raise NotFoundException(f"Key version {version} of {key.arn} does not exist")
        return crypto.unwrap(self._master, key.key_id, version, wrapped)

    def _add_version(self, key: KeyRecord, kind: str, **changes: object) -> KeyRecord:
        version = key.current_version + 1
        wrapped = crypto.wrap(self._master, key.key_id, version, crypto.new_material())
        self.store.add_version(key.key_id, version, wrapped, self._clock(), kind, **changes)
        return replace(key, current_version=version)

    def _alive(self, key: KeyRecord) -> bool:
        return not (
            key.state == "PendingDeletion" and key.deletion_date and key.deletion_date <= self._clock()
        )

    def _refresh(self, key: KeyRecord) -> KeyRecord:
        """Apply what time has done to a key since it was last seen: deletion, then automatic rotation."""
        if not self._alive(key):
            self.store.delete_key(key.key_id)
            raise NotFoundException(f"Key '{key.arn}' does not exist")
        now = self._clock()
        if key.state == "Enabled" and key.rotation_enabled and key.next_rotation and key.next_rotation <= now:
            nxt = now + key.rotation_days * DAY
            key = replace(self._add_version(key, "AUTOMATIC", next_rotation=nxt), next_rotation=nxt)
        return key

    @staticmethod
    def _require_enabled(key: KeyRecord) -> None:
        if key.state == "Disabled":
            raise DisabledException(f"{key.arn} is disabled.")
        Keyring._require_not_pending(key)

    @staticmethod
    def _require_usage(key: KeyRecord, usage: str, *, symmetric: bool) -> None:
        Keyring._require_enabled(key)
        if key.key_usage != usage or (key.key_spec == asymmetric.SYMMETRIC) != symmetric:
            raise InvalidKeyUsageException(
                f"{key.arn} key usage is {key.key_usage} and its key spec {key.key_spec}: it cannot be used "
                "for this operation."
            )

    @staticmethod
    def _require_symmetric(key: KeyRecord, what: str) -> None:
        if key.key_spec != asymmetric.SYMMETRIC:
            raise UnsupportedOperationException(
                f"{what} is not supported for {key.key_spec} keys: only symmetric encryption keys rotate."
            )

    @staticmethod
    def _require_not_pending(key: KeyRecord) -> None:
        if key.state == "PendingDeletion":
            raise KMSInvalidStateException(f"{key.arn} is pending deletion.")

    @staticmethod
    def _require_customer(key: KeyRecord) -> None:
        if key.manager == "AWS":
            raise ValidationException(f"{key.arn} is an AWS managed key: AWS manages its life cycle.")
