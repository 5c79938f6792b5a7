"""KMS's domain errors: each class's name is the error code KMS answers (the service passes them through)."""

from __future__ import annotations


class KmsError(Exception):
    """A KMS error; its class name is the error code KMS answers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__


class NotFoundException(KmsError): ...


class DisabledException(KmsError): ...


class KMSInvalidStateException(KmsError): ...


class InvalidCiphertextException(KmsError): ...


class IncorrectKeyException(KmsError): ...


class AlreadyExistsException(KmsError): ...


class InvalidAliasNameException(KmsError): ...


class MalformedPolicyDocumentException(KmsError): ...


class ValidationException(KmsError): ...


class InvalidKeyUsageException(KmsError): ...


class UnsupportedOperationException(KmsError): ...


class KMSInvalidSignatureException(KmsError): ...


class KMSInvalidMacException(KmsError): ...
