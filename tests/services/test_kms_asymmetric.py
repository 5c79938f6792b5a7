"""KMS's asymmetric and HMAC keys through boto3: signatures, public keys, RSA encryption, MACs, key pairs.

Signatures are checked with `cryptography` against the public key GetPublicKey returns, as a caller
outside AWS verifies them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tests.errors import error_of

MESSAGE = b"Here is the message that will be digitally signed"


@pytest.fixture
def kms(client: Callable[..., Any]) -> Any:
    return client("kms")


def make(kms: Any, spec: str, usage: str) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    return metadata


def test_the_sdk_examples_rsa_sign_and_verify(kms: Any) -> None:
    key = make(kms, "RSA_2048", "SIGN_VERIFY")
    assert key["KeySpec"] == "RSA_2048" and key["KeyUsage"] == "SIGN_VERIFY"
    assert "RSASSA_PSS_SHA_256" in key["SigningAlgorithms"] and "EncryptionAlgorithms" not in key
    signed = kms.sign(
        KeyId=key["KeyId"], Message=MESSAGE, MessageType="RAW", SigningAlgorithm="RSASSA_PSS_SHA_256"
    )
    assert signed["KeyId"] == key["Arn"] and signed["SigningAlgorithm"] == "RSASSA_PSS_SHA_256"
    verified = kms.verify(
        KeyId=key["KeyId"],
        Message=MESSAGE,
        MessageType="RAW",
        Signature=signed["Signature"],
        SigningAlgorithm="RSASSA_PSS_SHA_256",
    )
    assert verified["SignatureValid"] is True
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    public.verify(signed["Signature"], MESSAGE, pss, hashes.SHA256())  # raises when it does not verify
    with pytest.raises(kms.exceptions.KMSInvalidSignatureException):
        kms.verify(
            KeyId=key["KeyId"],
            Message=MESSAGE + b"!",
            Signature=signed["Signature"],
            SigningAlgorithm="RSASSA_PSS_SHA_256",
        )


def test_ecdsa_signs_a_digest_and_ed25519_a_raw_message(kms: Any) -> None:
    key = make(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    digest = hashlib.sha256(MESSAGE).digest()
    signed = kms.sign(
        KeyId=key["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
    )
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signed["Signature"], MESSAGE, ec.ECDSA(hashes.SHA256()))  # DER, as KMS returns ECDSA
    edwards = make(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    signature = kms.sign(KeyId=edwards["KeyId"], Message=MESSAGE, SigningAlgorithm="ED25519_SHA_512")[
        "Signature"
    ]
    verifier = serialization.load_der_public_key(kms.get_public_key(KeyId=edwards["KeyId"])["PublicKey"])
    assert isinstance(verifier, ed25519.Ed25519PublicKey)
    verifier.verify(signature, MESSAGE)
    short = digest[:20]
    wrong = error_of(
        kms.sign, KeyId=key["KeyId"], Message=short, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
    )
    assert wrong["Code"] == "ValidationException" and "invalid length" in wrong["Message"]


def test_rsa_encryption_needs_the_key_id_to_decrypt(kms: Any) -> None:
    key = make(kms, "RSA_3072", "ENCRYPT_DECRYPT")
    assert key["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert blob["EncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    opened = kms.decrypt(
        KeyId=key["KeyId"], CiphertextBlob=blob["CiphertextBlob"], EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    assert opened["Plaintext"] == b"secret" and opened["KeyId"] == key["Arn"]
    assert error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")["Code"] == "ValidationException"
    misuse = error_of(kms.sign, KeyId=key["KeyId"], Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert misuse["Code"] == "InvalidKeyUsageException"


def test_hmac_keys_generate_and_verify_macs(kms: Any) -> None:
    key = make(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    assert key["MacAlgorithms"] == ["HMAC_SHA_256"]
    made = kms.generate_mac(KeyId=key["KeyId"], Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")
    assert len(made["Mac"]) == 32
    assert kms.verify_mac(KeyId=key["KeyId"], Message=MESSAGE, Mac=made["Mac"], MacAlgorithm="HMAC_SHA_256")[
        "MacValid"
    ]
    with pytest.raises(kms.exceptions.KMSInvalidMacException):
        kms.verify_mac(KeyId=key["KeyId"], Message=b"other", Mac=made["Mac"], MacAlgorithm="HMAC_SHA_256")
    assert error_of(kms.get_public_key, KeyId=key["KeyId"])["Code"] == "UnsupportedOperationException"


def test_data_key_pairs_open_with_the_symmetric_key(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    pair = kms.generate_data_key_pair(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256")
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public == pair["PublicKey"]
    assert (
        kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"]
        == pair["PrivateKeyPlaintext"]
    )
    quiet = kms.generate_data_key_pair_without_plaintext(KeyId=key["KeyId"], KeyPairSpec="RSA_2048")
    assert "PrivateKeyPlaintext" not in quiet and quiet["KeyPairSpec"] == "RSA_2048"


def test_bad_pairings_and_rotation_are_refused(kms: Any) -> None:
    assert error_of(kms.create_key, KeySpec="ECC_NIST_P256")["Code"] == "ValidationException"  # usage
    assert (
        error_of(kms.create_key, KeySpec="HMAC_256", KeyUsage="SIGN_VERIFY")["Code"] == "ValidationException"
    )
    assert (
        error_of(kms.create_key, KeySpec="ML_DSA_44", KeyUsage="SIGN_VERIFY")["Code"] == "ValidationException"
    )
    key = make(kms, "RSA_2048", "SIGN_VERIFY")
    assert error_of(kms.enable_key_rotation, KeyId=key["KeyId"])["Code"] == "UnsupportedOperationException"
    symmetric = kms.create_key()["KeyMetadata"]
    assert error_of(kms.get_public_key, KeyId=symmetric["KeyId"])["Code"] == "UnsupportedOperationException"
    assert error_of(kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256")["Code"] == (
        "InvalidKeyUsageException"
    )
