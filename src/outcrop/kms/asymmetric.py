"""KMS's asymmetric and HMAC keys: what each key spec allows, and its operations, on `cryptography`.

Material is stored as KMS stores symmetric material (wrapped by the master key): PKCS#8 DER for RSA, elliptic
curve and Ed25519 keys, raw bytes for HMAC keys. Signatures are in AWS's formats: RSA's raw bytes, ECDSA's
DER (ANS X9.62) encoding, Ed25519's 64 bytes. Errors are the keyring's, named as KMS names them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from outcrop.kms.errors import (
    InvalidCiphertextException,
    KMSInvalidMacException,
    KMSInvalidSignatureException,
    ValidationException,
)

SYMMETRIC = "SYMMETRIC_DEFAULT"
_RSA_SIGNING = [
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
]
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "224": hashes.SHA224,
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}


@dataclass(frozen=True)
class Spec:
    """What a key spec allows: its usages and, per usage, its algorithms."""

    usages: tuple[str, ...]
    signing: tuple[str, ...] = ()
    encryption: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()


SPECS: dict[str, Spec] = {
    SYMMETRIC: Spec(("ENCRYPT_DECRYPT",), encryption=(SYMMETRIC,)),
    **{
        f"RSA_{bits}": Spec(
            ("ENCRYPT_DECRYPT", "SIGN_VERIFY"),
            signing=tuple(_RSA_SIGNING),
            encryption=("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"),
        )
        for bits in (2048, 3072, 4096)
    },
    "ECC_NIST_P256": Spec(("SIGN_VERIFY",), signing=("ECDSA_SHA_256",)),
    "ECC_NIST_P384": Spec(("SIGN_VERIFY",), signing=("ECDSA_SHA_384",)),
    "ECC_NIST_P521": Spec(("SIGN_VERIFY",), signing=("ECDSA_SHA_512",)),
    "ECC_SECG_P256K1": Spec(("SIGN_VERIFY",), signing=("ECDSA_SHA_256",)),
    "ECC_NIST_EDWARDS25519": Spec(("SIGN_VERIFY",), signing=("ED25519_SHA_512",)),
    **{
        f"HMAC_{bits}": Spec(("GENERATE_VERIFY_MAC",), mac=(f"HMAC_SHA_{bits}",))
        for bits in (224, 256, 384, 512)
    },
}
MAX_MESSAGE = 4096


def check_spec(spec: str, usage: str) -> None:
    """CreateKey's pairing rules: a spec Outcrop makes, with a usage that spec supports."""
    known = SPECS.get(spec)
    if known is None:
        raise ValidationException(f"Outcrop's KMS does not make {spec} keys; it makes {', '.join(SPECS)}.")
    if usage not in known.usages:
        raise ValidationException(
            f"KeyUsage {usage} is not compatible with KeySpec {spec}; use {' or '.join(known.usages)}."
        )


def new_material(spec: str) -> bytes:
    """Fresh key material for `spec` (not SYMMETRIC_DEFAULT, which the keyring makes itself)."""
    if spec.startswith("HMAC_"):
        return secrets.token_bytes(int(spec[5:]) // 8)
    private: Any
    if spec.startswith("RSA_"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=int(spec[4:]))
    elif spec == "ECC_NIST_EDWARDS25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        private = ec.generate_private_key(_CURVES[spec]())
    return bytes(
        private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def public_key(material: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo that GetPublicKey returns."""
    return bytes(
        _private(material)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def sign(spec: str, material: bytes, message: bytes, message_type: str, algorithm: str) -> bytes:
    _check_message(spec, message, message_type, algorithm)
    key = _private(material)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    digest, prehashed = _digest(algorithm, message, message_type)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, _rsa_padding(algorithm), prehashed)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(digest, ec.ECDSA(prehashed))
    raise ValidationException(f"{spec} keys do not sign.")


def verify(
    spec: str, material: bytes, message: bytes, message_type: str, algorithm: str, signature: bytes
) -> None:
    """Returns when the signature is valid; KMSInvalidSignatureException otherwise, as KMS answers."""
    _check_message(spec, message, message_type, algorithm)
    public = _private(material).public_key()
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, message)
            return
        digest, prehashed = _digest(algorithm, message, message_type)
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, digest, _rsa_padding(algorithm), prehashed)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, digest, ec.ECDSA(prehashed))
    except (InvalidSignature, ValueError) as exc:
        raise KMSInvalidSignatureException("The signature is not valid for this message and key.") from exc


def rsa_encrypt(material: bytes, algorithm: str, plaintext: bytes) -> bytes:
    key = _private(material)
    assert isinstance(key, rsa.RSAPrivateKey)
    try:
        return key.public_key().encrypt(plaintext, _oaep(algorithm))
    except ValueError as exc:
        raise ValidationException(
            f"The plaintext is too long for {algorithm} with a {key.key_size}-bit RSA key."
        ) from exc


def rsa_decrypt(material: bytes, algorithm: str, ciphertext: bytes) -> bytes:
    key = _private(material)
    assert isinstance(key, rsa.RSAPrivateKey)
    try:
        return key.decrypt(ciphertext, _oaep(algorithm))
    except ValueError as exc:
        raise InvalidCiphertextException("The ciphertext does not open with this key and algorithm.") from exc


def mac(material: bytes, algorithm: str, message: bytes) -> bytes:
    return hmac.new(material, message, getattr(hashlib, "sha" + algorithm.rsplit("_", 1)[1])).digest()


def verify_mac(material: bytes, algorithm: str, message: bytes, tag: bytes) -> None:
    if not hmac.compare_digest(mac(material, algorithm, message), tag):
        raise KMSInvalidMacException("The MAC is not valid for this message and key.")


# -- internals -------------------------------------------------------------------------------------------


def _hash(algorithm: str) -> hashes.HashAlgorithm:
    """The digest a signing algorithm names last: RSASSA_PSS_SHA_256 and ECDSA_SHA_256 → SHA-256."""
    return _HASHES[algorithm.rsplit("_", 1)[1]]()


def _private(material: bytes) -> Any:
    return serialization.load_der_private_key(material, password=None)


def _check_message(spec: str, message: bytes, message_type: str, algorithm: str) -> None:
    if algorithm not in SPECS[spec].signing:
        raise ValidationException(
            f"SigningAlgorithm {algorithm} is not valid for a {spec} key; "
            f"use {', '.join(SPECS[spec].signing) or 'none: it does not sign'}."
        )
    if message_type not in ("RAW", "DIGEST"):
        raise ValidationException(f"Outcrop's KMS signs RAW or DIGEST messages, not {message_type}.")
    if algorithm == "ED25519_SHA_512" and message_type != "RAW":
        raise ValidationException("ED25519_SHA_512 signs RAW messages only.")
    if message_type == "RAW" and len(message) > MAX_MESSAGE:
        raise ValidationException(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have "
            f"length less than or equal to {MAX_MESSAGE}"
        )
    if message_type == "DIGEST":
        size = _hash(algorithm).digest_size
        if len(message) != size:
            raise ValidationException(
                f"Digest is invalid length for algorithm {algorithm}: expected {size} bytes, "
                f"got {len(message)}."
            )


def _digest(algorithm: str, message: bytes, message_type: str) -> tuple[bytes, utils.Prehashed]:
    chosen = _hash(algorithm)
    if message_type == "DIGEST":
        return message, utils.Prehashed(chosen)
    hasher = hashes.Hash(chosen)
    hasher.update(message)
    return hasher.finalize(), utils.Prehashed(chosen)


def _rsa_padding(algorithm: str) -> padding.AsymmetricPadding:
    if "PSS" in algorithm:
        chosen = _hash(algorithm)
        return padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
    return padding.PKCS1v15()


def _oaep(algorithm: str) -> padding.OAEP:
    chosen: hashes.HashAlgorithm = hashes.SHA1() if algorithm == "RSAES_OAEP_SHA_1" else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)
