"""KMS's asymmetric and HMAC operations (a part of the `kms` service): Sign, Verify, GetPublicKey,
GenerateMac, VerifyMac and data key pairs, over the keyring's material and `outcrop.kms.asymmetric`."""

from __future__ import annotations

from typing import Any

from outcrop.kms import asymmetric
from outcrop.kms.keys import Keyring, UnsupportedOperationException
from outcrop.kms.store import KeyRecord
from outcrop.services.base import RequestContext, Service
from outcrop.services.kms.errors import KmsValidationException, answering_kms_errors

PAIR_SPECS = (
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
)


def algorithms(key: KeyRecord) -> dict[str, list[str]]:
    """DescribeKey's and GetPublicKey's algorithm lists for the key's spec and usage."""
    spec = asymmetric.SPECS[key.key_spec]
    if key.key_usage == "SIGN_VERIFY":
        return {"SigningAlgorithms": list(spec.signing)}
    if key.key_usage == "GENERATE_VERIFY_MAC":
        return {"MacAlgorithms": list(spec.mac)}
    return {"EncryptionAlgorithms": list(spec.encryption)}


@answering_kms_errors
class KmsSigning(Service):
    keys: Keyring

    def _key(
        self, ctx: RequestContext, params: dict[str, Any], *, aliases: bool = True, field: str = "KeyId"
    ) -> KeyRecord:
        return self.keys.resolve(ctx.account_id, ctx.region, params[field], aliases=aliases)

    def sign(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params)
        material = self.keys.private_material(key, "SIGN_VERIFY")
        algorithm = params["SigningAlgorithm"]
        message_type = params.get("MessageType") or "RAW"
        signature = asymmetric.sign(key.key_spec, material, bytes(params["Message"]), message_type, algorithm)
        return {"KeyId": key.arn, "Signature": signature, "SigningAlgorithm": algorithm}

    def verify(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params)
        material = self.keys.private_material(key, "SIGN_VERIFY")
        algorithm = params["SigningAlgorithm"]
        message_type = params.get("MessageType") or "RAW"
        asymmetric.verify(
            key.key_spec,
            material,
            bytes(params["Message"]),
            message_type,
            algorithm,
            bytes(params["Signature"]),
        )
        return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": algorithm}

    def get_public_key(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params)
        if key.key_spec == asymmetric.SYMMETRIC or key.key_usage == "GENERATE_VERIFY_MAC":
            raise UnsupportedOperationException(
                f"{key.arn} is a {key.key_spec} key: GetPublicKey is supported only on asymmetric KMS keys."
            )
        material = self.keys.private_material(key, key.key_usage)
        return {
            "KeyId": key.arn,
            "PublicKey": asymmetric.public_key(material),
            "CustomerMasterKeySpec": key.key_spec,
            "KeySpec": key.key_spec,
            "KeyUsage": key.key_usage,
            **algorithms(key),
        }

    def generate_mac(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params)
        material = self.keys.private_material(key, "GENERATE_VERIFY_MAC")
        algorithm = self._mac_algorithm(key, params["MacAlgorithm"])
        tag = asymmetric.mac(material, algorithm, bytes(params["Message"]))
        return {"Mac": tag, "MacAlgorithm": algorithm, "KeyId": key.arn}

    def verify_mac(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(ctx, params)
        material = self.keys.private_material(key, "GENERATE_VERIFY_MAC")
        algorithm = self._mac_algorithm(key, params["MacAlgorithm"])
        asymmetric.verify_mac(material, algorithm, bytes(params["Message"]), bytes(params["Mac"]))
        return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": algorithm}

    def generate_data_key_pair(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._data_key_pair(ctx, params, plaintext=True)

    def generate_data_key_pair_without_plaintext(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._data_key_pair(ctx, params, plaintext=False)

    def _data_key_pair(
        self, ctx: RequestContext, params: dict[str, Any], *, plaintext: bool
    ) -> dict[str, Any]:
        if params.get("Recipient"):
            raise KmsValidationException("Outcrop's KMS does not encrypt for Nitro Enclave recipients.")
        spec = params["KeyPairSpec"]
        if spec not in PAIR_SPECS:
            raise UnsupportedOperationException(
                f"Outcrop's KMS makes data key pairs of {', '.join(PAIR_SPECS)}, not {spec}."
            )
        key = self._key(ctx, params)
        private = asymmetric.new_material(spec)
        blob = self.keys.encrypt(key, private, params.get("EncryptionContext") or {})
        answer: dict[str, Any] = {
            "PrivateKeyCiphertextBlob": blob,
            "PublicKey": asymmetric.public_key(private),
            "KeyId": key.arn,
            "KeyPairSpec": spec,
        }
        if plaintext:
            answer["PrivateKeyPlaintext"] = private
        return answer

    @staticmethod
    def _mac_algorithm(key: KeyRecord, algorithm: str) -> str:
        allowed = asymmetric.SPECS[key.key_spec].mac
        if algorithm not in allowed:
            raise KmsValidationException(
                f"MacAlgorithm {algorithm} is not valid for a {key.key_spec} key; use {', '.join(allowed)}."
            )
        return algorithm
