"""API Gateway's side of an invocation: which route a request takes, and the event the handler receives.

REST APIs send payload format 1.0 (`resource`, `httpMethod`, `multiValueHeaders`...); HTTP APIs send 2.0
(`version`, `routeKey`, `rawPath`, `cookies`...) unless a route asks for 1.0.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode

from outcrop.lambdas.spec import Api, Route
from outcrop.protocol.parse import HttpRequest

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")
TEXT_TYPES_FORM = "application/x-www-form-urlencoded"


@dataclass
class Match:
    api: Api
    route: Route
    path: str  # the path after the stage, as the handler sees it: `/items/42`
    path_parameters: dict[str, str]


def find_route(api: Api, method: str, path: str) -> Match | None:
    """The most specific route of `api` that takes `method` and `path` (literal > {param} > {proxy+})."""
    candidates = []
    for route in api.routes:
        if route.method not in ("ANY", method) and not (method == "HEAD" and route.method == "GET"):
            continue
        found = route.pattern().fullmatch(path)
        if found:
            names = api.param_names(route)
            parameters = {names[k]: unquote(v) for k, v in found.groupdict().items() if v is not None}
            candidates.append((route.specificity(), route, parameters))
    if not candidates:
        return None
    _, route, parameters = max(candidates, key=lambda c: c[0])
    return Match(api, route, path, parameters)


def _is_text(content_type: str) -> bool:
    lowered = content_type.lower()
    return not lowered or TEXT_TYPES_FORM in lowered or any(t in lowered for t in TEXT_TYPES)


def _body(request: HttpRequest, *, version: str) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if version == "2.0" and not _is_text(request.header("content-type")):
        return base64.b64encode(request.body).decode(), True
    try:
        return request.body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(request.body).decode(), True


def _clock() -> tuple[str, int]:
    now = time.time()
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), int(now * 1000)


def build_event(match: Match, request: HttpRequest, request_id: str, account_id: str) -> dict[str, Any]:
    if match.route.payload_version == "2.0":
        return _event_v2(match, request, request_id, account_id)
    return _event_v1(match, request, request_id, account_id)


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _source_ip(request: HttpRequest) -> str:
    forwarded = request.header("x-forwarded-for")
    return forwarded.split(",")[0].strip() if forwarded else "127.0.0.1"


def _event_v1(match: Match, request: HttpRequest, request_id: str, account_id: str) -> dict[str, Any]:
    api, route = match.api, match.route
    # REST APIs pass header names as the client wrote them; the server only kept them lower-cased, so they
    # are title-cased (`Content-Type`), which is how browsers, curl and SDKs write them.
    headers = {_title(name): value for name, value in request.headers.items()}
    multi_headers = {name: [value] for name, value in headers.items()}
    single_query = {name: values[-1] for name, values in request.query.items()}
    body, encoded = _body(request, version="1.0")
    when, epoch = _clock()
    domain = request.header("host") or "localhost"
    resource = route.path if route.path != "$default" else "/{proxy+}"
    parameters = match.path_parameters or None
    if route.path == "$default":
        parameters = {"proxy": match.path.lstrip("/")}
    return {
        "resource": resource,
        "path": match.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": dict(request.query) or None,
        "pathParameters": parameters,
        "stageVariables": dict(api.stage_variables) or None,
        "requestContext": {
            "accountId": account_id,
            "apiId": api.api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "extendedRequestId": request_id,
            "httpMethod": request.method,
            "identity": {
                "sourceIp": _source_ip(request),
                "userAgent": request.header("user-agent"),
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
            },
            "path": f"/{api.stage}{match.path}" if api.stage != "$default" else match.path,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": when,
            "requestTimeEpoch": epoch,
            "resourceId": route.key,
            "resourcePath": resource,
            "stage": api.stage,
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def _event_v2(match: Match, request: HttpRequest, request_id: str, account_id: str) -> dict[str, Any]:
    api, route = match.api, match.route
    headers = {name: value for name, value in request.headers.items() if name != "cookie"}
    cookies = [c.strip() for c in request.header("cookie").split(";") if c.strip()]
    body, encoded = _body(request, version="2.0")
    when, epoch = _clock()
    domain = request.header("host") or "localhost"
    raw_path = f"/{api.stage}{match.path}" if api.stage != "$default" else match.path
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": urlencode([(k, v) for k, values in request.query.items() for v in values]),
        "headers": headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": api.api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": _source_ip(request),
                "userAgent": request.header("user-agent"),
            },
            "requestId": request_id,
            "routeKey": route.key,
            "stage": api.stage,
            "time": when,
            "timeEpoch": epoch,
        },
        "isBase64Encoded": encoded,
    }
    if cookies:
        event["cookies"] = cookies
    if request.query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in request.query.items()}
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if api.stage_variables:
        event["stageVariables"] = dict(api.stage_variables)
    if body is not None:
        event["body"] = body
    return event
