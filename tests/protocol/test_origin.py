"""A web page the developer visits cannot drive their server: forged cross-site requests and rebound Hosts
are refused, while boto3, the console's signed calls, S3's unsigned reads and API Gateway apps still work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from outcrop.config import Settings
from outcrop.protocol.origin import OriginPolicy, host_name
from outcrop.protocol.parse import HttpRequest
from tests.lambdas.apps import APPS, api_ids, app_server
from tests.server import RunningServer

EVIL = "http://evil.example"
APP_ORIGIN = "http://localhost:3000"
SCOPE = "AKIAANY/20261206/us-east-1/lambda/aws4_request"
SIGNED = {"authorization": f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature=00"}
PRESIGNED = "X-Amz-Credential=AKIAANY%2F20261206%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Signature=00"


def request(headers: dict[str, str], method: str = "POST") -> HttpRequest:
    return HttpRequest(method, "/", {}, {k.lower(): v for k, v in headers.items()}, b"")


def test_hosts_the_server_answers_to() -> None:
    policy = OriginPolicy.from_settings(Settings(allowed_hosts=["outcrop.test", ".lab.test"]))
    for host in (
        "localhost:4566",
        "127.0.0.1:4566",
        "[::1]:4566",
        "127.0.0.2",
        "demo-notes.localhost:4566",
        "demo-notes.s3.localhost",
        "abc123.execute-api.localhost:4566",
        "bucket.s3.localhost.localstack.cloud:4566",
        "outcrop.test:8080",
        "lab.test",
        "gpu.lab.test",
        "",  # HTTP/1.0 from a tool: no browser sends that
    ):
        assert policy.host_allowed(host), host
    for host in ("evil.example:4566", "localhost.evil.example", "10.0.0.5:4566", "xoutcrop.test", "[::2]"):
        assert not policy.host_allowed(host), host
    assert host_name("Bucket.LocalHost.:4566") == "bucket.localhost"


def test_bound_to_every_interface_any_address_literal_is_ours() -> None:
    policy = OriginPolicy.from_settings(Settings(host="0.0.0.0"))
    assert policy.host_allowed("192.168.1.20:4566") and policy.host_allowed("[fe80::1]:4566")
    assert not policy.host_allowed("rebound.evil.example:4566")
    assert OriginPolicy.from_settings(Settings(allowed_hosts=["*"])).host_allowed("anything.example")


def test_origins_and_what_a_browser_marks_cross_site() -> None:
    policy = OriginPolicy.from_settings(Settings(allowed_origins=[APP_ORIGIN + "/"]))
    console = {"host": "127.0.0.1:4566", "origin": "http://127.0.0.1:4566"}
    assert not policy.cross_site(request(console))
    assert not policy.cross_site(request({"host": "127.0.0.1:4566", "origin": APP_ORIGIN}))
    assert policy.cross_site(request({"host": "127.0.0.1:4566", "origin": EVIL}))
    assert policy.cross_site(request({"host": "127.0.0.1:4566", "origin": "null"}))
    # an attacker's rebound name is same-origin with itself, but not a Host the server answers to
    assert policy.cross_site(request({"host": "evil.example:4566", "origin": "http://evil.example:4566"}))
    assert policy.cross_site(request({"host": "127.0.0.1:4566", "sec-fetch-site": "cross-site"}, "GET"))
    assert not policy.cross_site(request({"host": "127.0.0.1:4566", "sec-fetch-site": "same-origin"}))
    assert not policy.cross_site(request({"host": "127.0.0.1:4566"}))  # boto3, the CLI: no browser headers
    assert policy.cors_headers(request({"host": "127.0.0.1:4566", "origin": EVIL})) == {"vary": "Origin"}


# -- against a running server --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"OUTCROP_ALLOWED_ORIGINS": APP_ORIGIN, "OUTCROP_ALLOWED_HOSTS": "outcrop.test"}
    with app_server(tmp_path_factory.mktemp("origin"), APPS / "demo", extra_env=env) as (server, _):
        yield server


def invoke_url(server: RunningServer) -> str:
    return f"{server.endpoint}/2015-03-31/functions/Echo/invocations"


def echo_event(path: str) -> bytes:
    return json.dumps({"routeKey": "GET /short", "rawPath": path}).encode()


def test_unsigned_cross_site_invoke_is_refused(demo: RunningServer) -> None:
    # what a <form enctype="text/plain"> or a no-cors fetch on any page sends: no preflight, no signature
    forged = httpx.post(
        invoke_url(demo),
        content=echo_event("/forged"),
        headers={"content-type": "text/plain", "origin": EVIL},
    )
    assert forged.status_code == 403
    assert forged.headers["x-amzn-errortype"] == "AccessDeniedException"
    assert "access-control-allow-origin" not in forged.headers
    unsigned = httpx.post(
        invoke_url(demo), content=echo_event("/unsigned"), headers={"content-type": "text/plain"}
    )
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert unsigned.json()["message"].startswith("Missing Authentication Token")
    # a presigned-query shape is forgeable from a page in dev mode: the browser's own marks still refuse it
    for marks in ({"origin": EVIL}, {"sec-fetch-site": "cross-site"}):
        shaped = httpx.post(f"{invoke_url(demo)}?{PRESIGNED}", content=echo_event("/q"), headers=marks)
        assert shaped.status_code == 403, marks
    # any key still works in dev mode, from boto3, a tool, or the console's own origin
    signed = httpx.post(invoke_url(demo), content=echo_event("/signed"), headers=SIGNED)
    assert signed.status_code == 200 and json.loads(signed.content)["path"] == "/signed"
    console = {**SIGNED, "origin": demo.endpoint, "sec-fetch-site": "same-origin"}
    assert httpx.post(invoke_url(demo), content=echo_event("/c"), headers=console).status_code == 200
    response = demo.client("lambda").invoke(FunctionName="Echo", Payload=echo_event("/boto3"))
    assert json.loads(response["Payload"].read())["path"] == "/boto3"


def test_query_api_writes_need_a_signature(demo: RunningServer) -> None:
    create = httpx.get(f"{demo.endpoint}/?Action=CreateUser&UserName=mallory&Version=2010-05-08")
    assert create.status_code == 403 and "<Code>MissingAuthenticationToken</Code>" in create.text
    iam = demo.client("iam")
    assert all(user["UserName"] != "mallory" for user in iam.list_users()["Users"])


def test_s3_reads_stay_open_and_writes_need_a_signature(demo: RunningServer) -> None:
    s3 = demo.client("s3")
    s3.put_object(Bucket="demo-notes", Key="public.txt", Body=b"read me")
    assert httpx.get(f"{demo.endpoint}/demo-notes/public.txt").content == b"read me"
    host = f"demo-notes.localhost:{demo.port}"
    assert httpx.get(f"{demo.endpoint}/public.txt", headers={"host": host}).content == b"read me"
    put = httpx.put(f"{demo.endpoint}/demo-notes/planted.txt", content=b"x", headers={"origin": EVIL})
    assert put.status_code == 403 and "<Code>AccessDenied</Code>" in put.text
    put = httpx.put(f"{demo.endpoint}/demo-notes/planted.txt", content=b"x")
    assert put.status_code == 403 and "<Code>AccessDenied</Code>" in put.text
    assert "Contents" not in s3.list_objects_v2(Bucket="demo-notes", Prefix="planted")


def test_a_host_the_server_does_not_listen_on_is_refused(demo: RunningServer) -> None:
    for path in ("/", "/_outcrop/console/", "/_outcrop/health", "/2015-03-31/functions/Echo/invocations"):
        rebound = httpx.post(
            demo.endpoint + path, headers={**SIGNED, "host": "evil.example", "origin": "http://evil.example"}
        )
        assert rebound.status_code == 400, path
        assert rebound.headers["x-amzn-errortype"] == "InvalidHostHeader"
        assert "allowed_hosts" in rebound.json()["message"]
    assert httpx.get(demo.endpoint + "/_outcrop/health", headers={"host": "10.9.8.7"}).status_code == 400
    for host in (f"localhost:{demo.port}", f"outcrop.test:{demo.port}", f"[::1]:{demo.port}"):
        assert httpx.get(demo.endpoint + "/_outcrop/health", headers={"host": host}).status_code == 200, host


def test_api_gateway_apps_keep_their_own_cors(demo: RunningServer) -> None:
    rest = api_ids(demo)["demo"]
    api = next(value for key, value in rest.items() if key.endswith(":v1"))
    url = f"{demo.endpoint}/restapis/{api}/v1/_user_request_/hello/web"
    page = httpx.get(url, headers={"origin": EVIL})  # a public API: AWS serves it to any page too
    assert page.status_code == 200
    preflight = httpx.options(url, headers={"origin": APP_ORIGIN, "access-control-request-method": "GET"})
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    by_host = httpx.get(
        f"{demo.endpoint}/v1/hello/host", headers={"host": f"{api}.execute-api.localhost:{demo.port}"}
    )
    assert by_host.status_code == 200


def test_aws_cors_only_for_allowed_origins(demo: RunningServer) -> None:
    ask = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, x-amz-date",
    }
    allowed = httpx.options(invoke_url(demo), headers={**ask, "origin": APP_ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert allowed.headers["access-control-allow-headers"] == "authorization, x-amz-date"
    refused = httpx.options(invoke_url(demo), headers={**ask, "origin": EVIL})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    called = httpx.post(
        invoke_url(demo), content=echo_event("/app"), headers={**SIGNED, "origin": APP_ORIGIN}
    )
    assert called.status_code == 200
    assert called.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "x-amzn-requestid" in called.headers["access-control-expose-headers"]


def test_console_page_and_signed_calls_from_its_origin(demo: RunningServer) -> None:
    page = httpx.get(demo.endpoint + "/_outcrop/console/", headers={"sec-fetch-site": "none"})
    assert page.status_code == 200
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    headers: dict[str, Any] = {
        "authorization": SIGNED["authorization"].replace("/lambda/", "/sts/"),
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "origin": demo.endpoint,
        "sec-fetch-site": "same-origin",
    }
    who = httpx.post(demo.endpoint + "/", content=body, headers=headers)
    assert who.status_code == 200 and "<Account>000000000000</Account>" in who.text
