"""A handler's return value (or its failure) as the HTTP answer API Gateway would give."""

from __future__ import annotations

import base64
import json
from typing import Any

from outcrop.lambdas.spec import HTTP, Api
from outcrop.lambdas.workers import Outcome
from outcrop.protocol.parse import HttpRequest
from outcrop.protocol.serialize import HttpResponse


def _message(status: int, text: str, request_id: str, kind: str) -> HttpResponse:
    headers = {"content-type": "application/json", "x-amzn-requestid": request_id}
    if kind:
        headers["x-amzn-errortype"] = kind
    return HttpResponse(status, headers, json.dumps({"message": text}).encode())


def failure(outcome: Outcome, request_id: str, *, rest: bool) -> HttpResponse:
    """REST APIs answer a crashed handler with 502 and a timeout with 504; HTTP APIs with 500 and 503."""
    if outcome.timed_out:
        if rest:
            return _message(504, "Endpoint request timed out", request_id, "IntegrationTimeout")
        return _message(503, "Service Unavailable", request_id, "")
    if rest:
        return _message(502, "Internal server error", request_id, "")
    return _message(500, "Internal Server Error", request_id, "")


def http_response(outcome: Outcome, request_id: str, *, version: str, rest: bool) -> HttpResponse:
    if outcome.error is not None or outcome.payload is None:
        return failure(outcome, request_id, rest=rest)
    result = json.loads(outcome.payload)
    if version == "2.0" and not (isinstance(result, dict) and "statusCode" in result):
        return _shorthand(result, request_id)
    if not isinstance(result, dict) or not isinstance(result.get("statusCode", 200), int):
        return _malformed(request_id, rest=rest)
    return _proxy(result, request_id, rest=rest)


def _shorthand(result: Any, request_id: str) -> HttpResponse:
    """HTTP API: a return without statusCode is the body of a 200 JSON answer (a string goes as is)."""
    body = result if isinstance(result, str) else json.dumps(result)
    return HttpResponse(
        200, {"content-type": "application/json", "x-amzn-requestid": request_id}, body.encode()
    )


def _malformed(request_id: str, *, rest: bool) -> HttpResponse:
    return _message(
        502 if rest else 500, "Internal server error" if rest else "Internal Server Error", request_id, ""
    )


def _proxy(result: dict[str, Any], request_id: str, *, rest: bool) -> HttpResponse:
    status = int(result.get("statusCode") or 200)
    multi = {
        str(k).lower(): [str(v) for v in vs] for k, vs in (result.get("multiValueHeaders") or {}).items()
    }
    single = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    cookies = multi.pop("set-cookie", None) or ([single["set-cookie"]] if "set-cookie" in single else [])
    single.pop("set-cookie", None)
    cookies += [str(c) for c in result.get("cookies") or []]
    headers = {"x-amzn-requestid": request_id}
    headers.update({name: ", ".join(values) for name, values in multi.items()})
    headers.update(single)
    for index, cookie in enumerate(cookies):
        headers[_header_name_variant("set-cookie", index)] = cookie
    body = result.get("body")
    if body is None:
        data = b""
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(str(body), validate=True)
        except ValueError:
            return _malformed(request_id, rest=rest)
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    headers.setdefault("content-type", "application/json")
    return HttpResponse(status, headers, data)


def _header_name_variant(name: str, index: int) -> str:
    """The n-th spelling of a header name differing only in case: several Set-Cookie headers fit the
    gateway's one-value-per-key header dict, and HTTP header names are case-insensitive."""
    letters = list(name)
    positions = [i for i, ch in enumerate(letters) if ch.isalpha()]
    for bit, position in enumerate(positions):
        if index >> bit & 1:
            letters[position] = letters[position].upper()
    return "".join(letters)


def preflight(api: Api, request: HttpRequest) -> HttpResponse:
    """API Gateway's own answer to a CORS preflight on an API with CORS settings (no handler runs)."""
    cors = api.cors
    assert cors is not None
    headers: dict[str, str] = {"vary": "Origin"}
    origin = cors.origin_for(request.header("origin"))
    if origin is not None:
        headers["access-control-allow-origin"] = origin
        methods = cors.allow_methods or ["*"]
        wanted = request.header("access-control-request-method")
        headers["access-control-allow-methods"] = wanted if "*" in methods and wanted else ",".join(methods)
        asked = request.header("access-control-request-headers")
        if "*" in cors.allow_headers and asked:
            headers["access-control-allow-headers"] = asked
        elif cors.allow_headers:
            headers["access-control-allow-headers"] = ",".join(cors.allow_headers)
        if cors.max_age is not None:
            headers["access-control-max-age"] = str(cors.max_age)
        if cors.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
    return HttpResponse(204 if api.kind == HTTP else 200, headers, b"")


def add_cors(api: Api, request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """HTTP APIs add the CORS headers to every answer; REST APIs leave that to the handler."""
    cors = api.cors
    if cors is None or api.kind != HTTP:
        return response
    origin = cors.origin_for(request.header("origin"))
    if origin is not None:
        response.headers.setdefault("access-control-allow-origin", origin)
        if cors.expose_headers:
            response.headers.setdefault("access-control-expose-headers", ",".join(cors.expose_headers))
        if cors.allow_credentials:
            response.headers.setdefault("access-control-allow-credentials", "true")
    return response
