"""AWS KMS (`kms`): keys and what they do, over the keyring (`outcrop.kms.keys`); asymmetric and HMAC
operations are in `signing`.

Key policies and grants are stored and answered as KMS answers them; they are evaluated only under the
IAM auth mode (`auth = "iam"`), which decides who may call. In the other auth modes every caller is the
account and may use every key, as it may in dev mode for every service.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from outcrop.config import Settings
from outcrop.iam.store import IamStore
from outcrop.kms import asymmetric
from outcrop.kms.keys import Keyring
from outcrop.kms.store import KeyRecord
from outcrop.services.base import RequestContext
from outcrop.services.kms.errors import KmsValidationException, NotFoundException, answering_kms_errors
from outcrop.services.kms.options import check_lockout, dry_run, ignores_ciphertext
from outcrop.services.kms.resources import KmsResources
from outcrop.services.kms.signing import KmsSigning, algorithms

ALGORITHM = "SYMMETRIC_DEFAULT"
DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}


def when(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


def key_metadata(key: KeyRecord) -> dict[str, Any]:
    return {
        "AWSAccountId": key.account,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": when(key.created),
        "Enabled": key.state == "Enabled",
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state,
        "DeletionDate": when(key.deletion_date),
        "PendingDeletionWindowInDays": key.pending_days,
        "Origin": key.origin,
        "KeyManager": key.manager,
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        **algorithms(key),
        "MultiRegion": False,
    }


@answering_kms_errors
class Kms(KmsSigning, KmsResources):
    service_name = "kms"

    def __init__(self, *, kms: Keyring, iam: IamStore, settings: Settings) -> None:
        """`iam` resolves the caller for the key policy lockout check, made under `auth = "iam"` only."""
        self.keys = kms
        self.principals = iam if settings.auth == "iam" else None

    # -- keys ---------------------------------------------------------------------------------------------

    def create_key(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        spec = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
        usage = params.get("KeyUsage") or "ENCRYPT_DECRYPT"
        origin = params.get("Origin") or "AWS_KMS"
        if origin != "AWS_KMS":
            raise KmsValidationException(f"Outcrop's KMS makes keys of origin AWS_KMS only, not {origin}.")
        if params.get("MultiRegion") or params.get("CustomKeyStoreId") or params.get("XksKeyId"):
            raise KmsValidationException("Outcrop's KMS has no multi-Region keys and no custom key stores.")
        tags = {tag["TagKey"]: tag["TagValue"] for tag in params.get("Tags") or []}
        pending = f"arn:aws:kms:{ctx.region}:{ctx.account_id}:key/00000000-0000-0000-0000-000000000000"
        check_lockout(self.principals, ctx, params.get("Policy"), pending, params)
        key = self.keys.create_key(
            ctx.account_id,
            ctx.region,
            description=params.get("Description") or "",
            policy=params.get("Policy"),
            tags=tags,
            key_spec=spec,
            key_usage=usage,
        )
        return {"KeyMetadata": key_metadata(key)}

    def describe_key(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"KeyMetadata": key_metadata(self._key(ctx, params))}

    def list_keys(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """ResourceOwners: SELF lists the account's keys; OTHER_ACCOUNTS_VIA_RAM lists none, truthfully,
        as Outcrop has no Resource Access Manager through which a key could be shared."""
        owners = params.get("ResourceOwners") or ["SELF"]
        keys = self.keys.keys(ctx.account_id, ctx.region) if "SELF" in owners else []
        page, marker = self._page(keys, params)
        return {
            "Keys": [{"KeyId": key.key_id, "KeyArn": key.arn} for key in page],
            "Truncated": marker is not None,
            "NextMarker": marker,
        }

    def enable_key(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.keys.set_enabled(self._key(ctx, params, aliases=False), True)
        return {}

    def disable_key(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.keys.set_enabled(self._key(ctx, params, aliases=False), False)
        return {}

    def update_key_description(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.keys.update_description(self._key(ctx, params, aliases=False), params["Description"])
        return {}

    def schedule_key_deletion(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        days = params.get("PendingWindowInDays") or 30
        if not 7 <= days <= 30:
            raise KmsValidationException(
                f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy "
                "constraint: Member must have value less than or equal to 30 and greater than or equal to 7"
            )
        key = self.keys.schedule_deletion(self._key(ctx, params, aliases=False), days)
        return {
            "KeyId": key.arn,
            "DeletionDate": when(key.deletion_date),
            "KeyState": key.state,
            "PendingWindowInDays": days,
        }

    def cancel_key_deletion(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params, aliases=False)
        self.keys.cancel_deletion(key)
        return {"KeyId": key.arn}

    # -- rotation -----------------------------------------------------------------------------------------

    def enable_key_rotation(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        days = params.get("RotationPeriodInDays")
        if days is not None and not 90 <= days <= 2560:
            raise KmsValidationException(
                f"1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to satisfy "
                "constraint: Member must have value less than or equal to 2560 and greater than or equal "
                "to 90"
            )
        self.keys.set_rotation(self._key(ctx, params, aliases=False), True, days)
        return {}

    def disable_key_rotation(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.keys.set_rotation(self._key(ctx, params, aliases=False), False)
        return {}

    def get_key_rotation_status(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params, aliases=False)
        return {
            "KeyId": key.arn,
            "KeyRotationEnabled": key.rotation_enabled,
            "RotationPeriodInDays": key.rotation_days if key.rotation_enabled else None,
            "NextRotationDate": when(key.next_rotation) if key.rotation_enabled else None,
        }

    def rotate_key_on_demand(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params, aliases=False)
        self.keys.rotate(key)
        return {"KeyId": key.arn}

    def list_key_rotations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params, aliases=False)
        rotations: list[dict[str, Any]] = [
            {
                "KeyId": key.arn,
                "RotationDate": when(at),
                "RotationType": kind,
                "KeyMaterialState": "NON_CURRENT",
            }
            for at, kind in self.keys.store.rotations(key.key_id)
        ]
        if (
            params.get("IncludeKeyMaterial") == "ALL_KEY_MATERIAL"
        ):  # the first material, which no rotation made
            rotations.insert(0, {"KeyId": key.arn, "KeyMaterialState": "NON_CURRENT"})
        if rotations:
            rotations[-1]["KeyMaterialState"] = "CURRENT"
        page, marker = self._page(rotations, params)
        return {
            "Rotations": page,
            "Truncated": marker is not None,
            "NextMarker": marker,
        }

    # -- policies -----------------------------------------------------------------------------------------

    def get_key_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params, aliases=False)
        name = self._policy_name(params)
        return {"Policy": key.policy, "PolicyName": name}

    def put_key_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params, aliases=False)
        self._policy_name(params)
        check_lockout(self.principals, ctx, params["Policy"], key.arn, params)
        self.keys.put_policy(key, params["Policy"])
        return {}

    def list_key_policies(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._key(ctx, params, aliases=False)
        return {"PolicyNames": ["default"], "Truncated": False}

    # -- cryptography -------------------------------------------------------------------------------------

    def encrypt(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params)
        algorithm = self._algorithm(key, params.get("EncryptionAlgorithm"))
        if algorithm != ALGORITHM:
            material = self.keys.private_material(key, "ENCRYPT_DECRYPT")
            blob = asymmetric.rsa_encrypt(material, algorithm, bytes(params["Plaintext"]))
        else:
            blob = self.keys.encrypt(key, params["Plaintext"], params.get("EncryptionContext") or {})
        return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": algorithm}

    def decrypt(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("Recipient"):
            raise KmsValidationException("Outcrop's KMS does not encrypt for Nitro Enclave recipients.")
        algorithm = params.get("EncryptionAlgorithm") or ALGORITHM
        if ignores_ciphertext(params):  # authorization (done) and the key named, not the ciphertext
            if params.get("KeyId"):
                self._algorithm(self._key(ctx, params), algorithm)
            dry_run(params)
        if algorithm != ALGORITHM:  # RSA ciphertext does not name its key: KMS requires the KeyId
            if not params.get("KeyId"):
                raise KmsValidationException("KeyId is required to decrypt with an asymmetric KMS key.")
            key = self._key(ctx, params)
            self._algorithm(key, algorithm)
            material = self.keys.private_material(key, "ENCRYPT_DECRYPT")
            plaintext = asymmetric.rsa_decrypt(material, algorithm, _ciphertext(params))
            return {"Plaintext": plaintext, "KeyId": key.arn, "EncryptionAlgorithm": algorithm}
        plaintext, key = self.keys.decrypt(
            ctx.account_id,
            ctx.region,
            _ciphertext(params),
            params.get("EncryptionContext") or {},
            params.get("KeyId"),
        )
        return {"Plaintext": plaintext, "KeyId": key.arn, "EncryptionAlgorithm": ALGORITHM}

    def re_encrypt(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        for field in ("SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm"):
            if params.get(field) not in (None, ALGORITHM):
                raise KmsValidationException(
                    f"Outcrop's KMS re-encrypts between symmetric keys only ({field})."
                )
        if ignores_ciphertext(params):
            self._key(ctx, params, field="DestinationKeyId")
            dry_run(params)
        plaintext, source = self.keys.decrypt(
            ctx.account_id,
            ctx.region,
            _ciphertext(params),
            params.get("SourceEncryptionContext") or {},
            params.get("SourceKeyId"),
        )
        target = self._key(ctx, params, field="DestinationKeyId")
        blob = self.keys.encrypt(target, plaintext, params.get("DestinationEncryptionContext") or {})
        return {
            "CiphertextBlob": blob,
            "SourceKeyId": source.arn,
            "KeyId": target.arn,
            "SourceEncryptionAlgorithm": ALGORITHM,
            "DestinationEncryptionAlgorithm": ALGORITHM,
        }

    def generate_data_key(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("Recipient"):
            raise KmsValidationException("Outcrop's KMS does not encrypt for Nitro Enclave recipients.")
        key = self._key(ctx, params)
        plaintext, blob = self.keys.data_key(
            key, _data_key_size(params), params.get("EncryptionContext") or {}
        )
        return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": key.arn}

    def generate_data_key_without_plaintext(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        key = self._key(ctx, params)
        _, blob = self.keys.data_key(key, _data_key_size(params), params.get("EncryptionContext") or {})
        return {"CiphertextBlob": blob, "KeyId": key.arn}

    def generate_random(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("CustomKeyStoreId") or params.get("Recipient"):
            raise KmsValidationException("Outcrop's KMS has no custom key stores and no enclave recipients.")
        size = params.get("NumberOfBytes")
        if size is None:
            raise KmsValidationException("NumberOfBytes is required.")
        return {"Plaintext": secrets.token_bytes(size)}

    # -- helpers ------------------------------------------------------------------------------------------

    @staticmethod
    def _policy_name(params: dict[str, Any]) -> str:
        name = params.get("PolicyName") or "default"
        if name != "default":
            raise NotFoundException(f"No such policy exists: {name}. A KMS key has one policy, 'default'.")
        return str(name)

    @staticmethod
    def _algorithm(key: KeyRecord, algorithm: str | None) -> str:
        """The encryption algorithm asked for, checked against the key's spec (its default when omitted)."""
        allowed = asymmetric.SPECS[key.key_spec].encryption
        chosen = algorithm or ALGORITHM
        if chosen not in allowed:
            raise KmsValidationException(
                f"EncryptionAlgorithm {chosen} is not valid for a {key.key_spec} key; "
                f"use {', '.join(allowed) or 'none: it does not encrypt'}."
            )
        return chosen


def _data_key_size(params: dict[str, Any]) -> int:
    spec, size = params.get("KeySpec"), params.get("NumberOfBytes")
    if (spec is None) == (size is None):
        raise KmsValidationException("Please specify either number of bytes or key spec.")
    return DATA_KEY_BYTES[spec] if spec is not None else int(size or 0)


def _ciphertext(params: dict[str, Any]) -> bytes:
    """CiphertextBlob: optional in botocore's model (a Recipient may stand in), required by Outcrop's KMS."""
    blob = params.get("CiphertextBlob")
    if blob is None:
        raise KmsValidationException(
            "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
            "constraint: Member must not be null"
        )
    return bytes(blob)
