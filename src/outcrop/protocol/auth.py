"""Who signed a request, and for which service. Dev mode accepts any key; strict mode checks it.

The signing name in the credential scope only narrows routing (see router.py); the access key names the
caller, whose account id appears in ARNs and GetCallerIdentity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from outcrop.protocol.errors import ServiceError
from outcrop.protocol.parse import HttpRequest

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Caller:
    access_key: str
    region: str
    signing_name: str | None
    scheme: str  # "sigv4", "sigv4-query", "bearer", "sigv2", "anonymous"


class UnrecognizedClient(ServiceError):
    code, status, sender_fault = "UnrecognizedClientException", 403, True


# The query-protocol services, by signing name: with S3 they name unknown credentials their own way; every
# JSON service says UnrecognizedClientException.
QUERY_SIGNING_NAMES = frozenset({"sts", "iam", "monitoring"})
_INVALID_TOKEN = "The security token included in the request is invalid."


def unknown_key(signing_name: str | None) -> ServiceError:
    """An access key this server does not know, as the service signed for answers it."""
    if signing_name == "s3":
        return ServiceError(
            "The AWS Access Key Id you provided does not exist in our records.",
            code="InvalidAccessKeyId",
            status=403,
            sender_fault=True,
        )
    return unknown_token(signing_name)


def unknown_token(signing_name: str | None) -> ServiceError:
    """A session token that is not the key's, as the service signed for answers it."""
    if signing_name == "s3":
        return ServiceError(
            "The provided token is malformed or otherwise invalid.",
            code="InvalidToken",
            status=400,
            sender_fault=True,
        )
    if signing_name in QUERY_SIGNING_NAMES:
        message = _INVALID_TOKEN.rstrip(".") if signing_name == "iam" else _INVALID_TOKEN  # IAM's has none
        return ServiceError(message, code="InvalidClientTokenId", status=403, sender_fault=True)
    return UnrecognizedClient(_INVALID_TOKEN)


def identify(request: HttpRequest, default_region: str) -> Caller:
    """Read the caller from the Authorization header or a presigned URL, without checking the signature."""
    header = request.header("authorization")
    if header.startswith("AWS4-"):
        m = _CREDENTIAL.search(header)
        if m:
            return Caller(m.group(1), m.group(3), m.group(4), "sigv4")
    if header.lower().startswith("bearer "):
        # Bedrock API keys are the only bearer tokens AWS accepts, so they route among the bedrock services.
        return Caller("bearer:" + header[7:15], default_region, "bedrock", "bearer")
    if header.startswith("AWS "):
        return Caller(header[4:].partition(":")[0], default_region, "s3", "sigv2")
    credential = (request.query.get("X-Amz-Credential") or [""])[0]
    if credential:
        parts = credential.split("/")
        if len(parts) >= 5:
            return Caller(parts[0], parts[2], parts[3], "sigv4-query")
    if "AWSAccessKeyId" in request.query:
        return Caller(request.query["AWSAccessKeyId"][0], default_region, "s3", "sigv2")
    return Caller("anonymous", default_region, None, "anonymous")


class Authenticator(Protocol):
    """Decides whether a caller may proceed. Raise a ServiceError to refuse."""

    def authenticate(self, request: HttpRequest, caller: Caller) -> None: ...


@runtime_checkable
class Authorizer(Protocol):
    """An authenticator that also decides, once the input is parsed, whether the caller may perform the
    operation on the resource it names (`auth = "iam"`). Raise a ServiceError to refuse."""

    def authorize(
        self,
        request: HttpRequest,
        caller: Caller,
        service: str,
        operation: str,
        params: dict[str, Any],
        source_ip: str,
    ) -> None: ...


class DevAuthenticator:
    """Any key, any signature: the local-development default, like every AWS emulator."""

    def authenticate(self, request: HttpRequest, caller: Caller) -> None:
        return None


class KeyListAuthenticator:
    """Only the configured access keys and bearer tokens may call. Signature checking plugs in here."""

    def __init__(self, access_keys: set[str], bearer_tokens: set[str]) -> None:
        self._access_keys = access_keys
        self._bearer_tokens = bearer_tokens

    def authenticate(self, request: HttpRequest, caller: Caller) -> None:
        if caller.scheme == "bearer":
            token = request.header("authorization")[7:]
            if token not in self._bearer_tokens:
                raise UnrecognizedClient("The API key in the request is not valid.")
            return
        if caller.access_key not in self._access_keys:
            raise unknown_key(caller.signing_name)
