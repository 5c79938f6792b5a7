"""What the gateway answers before, or instead of, an operation: a request no operation matches gets AWS's
error in the protocol its client reads (never a console page or a text/plain 405), and a body too large
for the server is known from its Content-Length before a byte of it is read."""

from __future__ import annotations

from collections.abc import Iterable

from botocore.model import ServiceModel

from outcrop.protocol.errors import ServiceError, UnknownOperation
from outcrop.protocol.parse import HttpRequest
from outcrop.protocol.router import Router, service_model
from outcrop.protocol.serialize import HttpResponse, serialize_error


def aws_only(request: HttpRequest, scheme: str) -> bool:
    """A SigV4-signed request is for an AWS operation: one that matches none is AWS's error, never a
    console page or the OpenAI routes (their own paths and API Gateway's hosts excepted)."""
    own = request.raw_path.startswith(("/_outcrop/", "/_localstack/"))
    authorization = request.header("authorization")
    api_gateway = ".execute-api." in request.header("host") or "/execute-api/" in authorization
    return scheme.startswith("sigv4") and not own and not api_gateway


def names_operation(request: HttpRequest) -> bool:
    """An unsigned request that names an AWS operation (STS's AssumeRoleWithWebIdentity is unsigned) is
    routed as one, even on a path Outcrop's own pages hold."""
    if request.header("x-amz-target") or "Action" in request.query:
        return True
    form = request.header("content-type").startswith("application/x-www-form-urlencoded")
    return form and request.method == "POST" and b"Action=" in request.body[:4096]


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int:
    """The request's Content-Length (0 when absent or unreadable: the body is then counted as it comes)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() and len(text) < 20 else 0
    return 0


def guess_protocol(
    router: Router, request: HttpRequest, signing_name: str | None
) -> tuple[ServiceModel | None, str | None]:
    """A served model and the wire protocol the client reads, for an answer before any route."""
    names = sorted(router.signing_names.get(signing_name or "", ()))
    model = service_model(names[0]) if names else None
    protocol = model.metadata.get("protocol") if model is not None else None
    if request.header("smithy-protocol") == "rpc-v2-cbor":
        protocol = "smithy-rpc-v2-cbor"
    elif protocol == "smithy-rpc-v2-cbor" or (
        request.header("x-amz-target") and protocol not in ("query", "rest-xml")
    ):
        protocol = "json"  # a client that did not say CBOR speaks the JSON form of the service
    elif model is None and ("Action" in request.query or b"Action=" in request.body[:4096]):
        protocol = "query"  # an unserved Query service (SNS, CloudFormation): its client reads only XML
    return model, protocol


def unrouted(router: Router, request: HttpRequest, signing_name: str | None, request_id: str) -> HttpResponse:
    """The error for a request no operation matches, in the protocol of the service it was signed for."""
    names = sorted(router.signing_names.get(signing_name or "", ()))
    model, protocol = guess_protocol(router, request, signing_name)
    error: ServiceError
    if signing_name == "s3":
        error = ServiceError(
            "The specified method is not allowed against this resource.",
            code="MethodNotAllowed",
            status=405,
            sender_fault=True,
        )
    elif names:
        error = UnknownOperation(
            f"No operation of {', '.join(names)} matches {request.method} {request.raw_path[:200]}."
        )
    else:
        served = f"the {signing_name} service" if signing_name else "the service it was signed for"
        error = UnknownOperation(f"This server does not serve {served}.")
    return serialize_error(model, error, request_id, protocol)
