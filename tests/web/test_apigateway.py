"""API Gateway, locally: Lambda handlers behind HTTP routes, through plain HTTP as a browser or curl calls.

The demo app (tests/lambdas/apps/demo) declares a REST API with a stage, the implicit REST API, and the
implicit HTTP API, over five functions in one template.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.lambdas.apps import APPS, api_ids, app_server
from tests.server import RunningServer


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    with app_server(tmp_path_factory.mktemp("apigateway"), APPS / "demo") as (server, copies):
        yield server, copies["demo"]


def _get(server: RunningServer, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(server.endpoint + path, timeout=60, **kwargs)


def test_rest_payload_1_0_through_the_localstack_url(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    api = api_ids(server)["demo"]["REST:v1"]
    response = _get(
        server,
        f"/restapis/{api}/v1/_user_request_/hello/ada%20lovelace?tag=a&tag=b&one=1",
        headers={"X-Custom": "yes"},
    )
    assert response.status_code == 200
    assert response.headers["x-multi"] == "a, b"
    body = response.json()
    assert body["message"] == "Hello, ada lovelace"
    event = body["event"]
    assert event["resource"] == "/hello/{name}"
    assert event["path"] == "/hello/ada%20lovelace"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"name": "ada lovelace"}
    assert event["queryStringParameters"] == {"tag": "b", "one": "1"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "one": ["1"]}
    assert event["headers"]["X-Custom"] == "yes" and event["headers"]["User-Agent"].startswith("python-httpx")
    assert event["multiValueHeaders"]["X-Custom"] == ["yes"]
    assert event["stageVariables"] == {"flavour": "vanilla"}
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "v1" and context["apiId"] == api
    assert context["resourcePath"] == "/hello/{name}" and context["path"] == "/v1/hello/ada%20lovelace"
    assert len(context["requestId"]) == 36 and context["requestTimeEpoch"] > 1_600_000_000_000
    assert response.headers["x-amzn-requestid"] == context["requestId"]


def test_lambda_context_and_environment(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    body = _get(server, "/_apps/demo/hello/env").json()
    context, env = body["context"], body["env"]
    assert context["function_name"] == "Hello"
    assert context["memory_limit_in_mb"] == "256"
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:Hello"
    assert 0 < context["remaining_ms"] <= 10_000
    assert context["log_group_name"] == "/aws/lambda/Hello"
    assert "[$LATEST]" in context["log_stream_name"]
    # the invocation's id is Lambda's, not API Gateway's
    assert len(context["aws_request_id"]) == 36
    assert context["aws_request_id"] != body["event"]["requestContext"]["requestId"]
    assert env["GREETING"] == "Hello" and env["REGION_SEEN"] == "us-east-1-demo"  # Globals, !Ref, !Sub
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "Hello" and env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{server.port}"


def test_http_api_payload_2_0(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    response = httpx.post(
        f"{server.endpoint}/_apps/demo/echo/a/b%2Fc?x=1&x=2",
        content=b"\x00\x01binary",
        headers={"content-type": "application/octet-stream", "cookie": "c1=v1; c2=v2"},
        timeout=60,
    )
    assert response.status_code == 200
    event = response.json()["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /echo/{proxy+}"
    assert event["rawPath"] == "/echo/a/b%2Fc"
    assert event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["pathParameters"] == {"proxy": "a/b/c"}
    assert event["cookies"] == ["c1=v1", "c2=v2"] and "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01binary"
    http = event["requestContext"]["http"]
    assert http["method"] == "POST" and http["path"] == "/echo/a/b%2Fc"
    assert event["requestContext"]["stage"] == "$default"


def test_http_api_route_with_payload_1_0(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    response = httpx.post(f"{server.endpoint}/_apps/demo/old/7", json={"a": 1}, timeout=60)
    event = response.json()["event"]
    assert "version" not in event and event["resource"] == "/old/{id}"
    assert event["pathParameters"] == {"id": "7"} and json.loads(event["body"]) == {"a": 1}


def test_http_api_shorthand_and_cookies(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    short = _get(server, "/_apps/demo/short")
    assert short.status_code == 200 and short.headers["content-type"] == "application/json"
    assert short.json() == {"shorthand": True, "path": "/short"}
    cookies = _get(server, "/_apps/demo/cookies")
    assert cookies.status_code == 201 and cookies.text == "cookies set"
    assert cookies.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_two_functions_in_one_template_route_apart(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    hello = _get(server, "/_apps/demo/hello/x").json()
    echo = _get(server, "/_apps/demo/echo/x").json()
    assert hello["context"]["function_name"] == "Hello" and "routeKey" in echo["event"]
    assert hello["pid"] != echo["pid"]  # each function has its own workers


def test_unknown_routes_answer_as_api_gateway_does(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    api = api_ids(server)["demo"]["REST:v1"]
    missing = _get(server, f"/restapis/{api}/v1/_user_request_/nowhere")
    assert missing.status_code == 403 and missing.json() == {"message": "Missing Authentication Token"}
    wrong_method = httpx.delete(f"{server.endpoint}/restapis/{api}/v1/_user_request_/hello/x", timeout=10)
    assert wrong_method.status_code == 403
    wrong_stage = _get(server, f"/restapis/{api}/prod/_user_request_/hello/x")
    assert wrong_stage.status_code == 403
    http_api = api_ids(server)["demo"]["HTTP:$default"]
    assert _get(server, f"/restapis/{http_api}/$default/_user_request_/nowhere").status_code == 404
    assert _get(server, "/restapis/nosuchapi0/v1/_user_request_/x").status_code == 404


def test_localstack_url_forms(demo: tuple[RunningServer, Path]) -> None:
    """The host form (through the handler the gateway would hand it to) and `/_aws/execute-api/`."""
    server, _ = demo
    api = api_ids(server)["demo"]["REST:v1"]
    host = f"{api}.execute-api.localhost.localstack.cloud:{server.port}"
    response = _get(server, "/_outcrop/execute-api/v1/hello/host", headers={"host": host})
    assert response.status_code == 200 and response.json()["message"] == "Hello, host"
    newer_form = _get(server, f"/_aws/execute-api/{api}/v1/hello/newer")
    assert newer_form.status_code == 200 and newer_form.json()["message"] == "Hello, newer"
    http_api = api_ids(server)["demo"]["HTTP:$default"]
    short = _get(server, f"/_aws/execute-api/{http_api}/short")
    assert short.json() == {"shorthand": True, "path": "/short"}


def test_handler_that_raises_gives_502_and_a_log_entry(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    response = httpx.post(f"{server.endpoint}/_apps/demo/crash", timeout=60)
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    request_id = response.headers["x-amzn-requestid"]
    logs = server.client("logs")
    messages = _log_messages(logs, "/aws/lambda/Crash", "handler failed on purpose")
    error = next(m for m in messages if m.startswith("[ERROR] RuntimeError"))
    assert "Traceback" in error and 'raise RuntimeError("handler failed on purpose")' in error
    everything = [e["message"] for e in logs.filter_log_events(logGroupName="/aws/lambda/Crash")["events"]]
    assert "about to fail" in everything
    assert any(m.startswith("START RequestId:") for m in everything)
    assert any(m.startswith("REPORT RequestId:") and "Max Memory Used" in m for m in everything)
    assert request_id  # API Gateway's own id, distinct from the invocation's
    # the worker survived its handler's exception and the server is fine
    assert _get(server, "/_outcrop/health").status_code == 200


def test_handler_over_its_timeout_gives_504(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    started = time.monotonic()
    response = _get(server, "/_apps/demo/slow")
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    assert time.monotonic() - started < 8  # Timeout: 1 in the template; the handler sleeps 30
    messages = _log_messages(server.client("logs"), "/aws/lambda/Slow", "Task timed out")
    assert any("Task timed out after 1.00 seconds" in m for m in messages)
    assert "sleeping past the timeout" in _log_messages(server.client("logs"), "/aws/lambda/Slow", "sleeping")
    again = _get(server, "/_apps/demo/slow")  # a fresh worker replaces the killed one
    assert again.status_code == 504


def test_warm_workers_are_reused_and_run_in_parallel(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    first = _get(server, "/_apps/demo/echo/warm").json()["pid"]
    second = _get(server, "/_apps/demo/echo/warm").json()["pid"]
    assert first == second
    with ThreadPoolExecutor(3) as pool:  # each call takes a second: three workers serve them at once
        pids = set(pool.map(lambda _: _get(server, "/_apps/demo/echo/p?sleep=1").json()["pid"], range(3)))
    assert len(pids) == 3 and first in pids


def test_boto3_inside_a_handler_reaches_outcrop(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    body = _get(server, "/_apps/demo/aws").json()
    assert body["account"] == "000000000000"
    assert body["stored"] == body["request"]
    stored = server.client("s3").get_object(Bucket="demo-notes", Key="seen.txt")["Body"].read()
    assert stored == body["request"].encode()


def test_code_change_is_picked_up_without_a_restart(demo: tuple[RunningServer, Path]) -> None:
    server, app = demo
    before = _get(server, "/_apps/demo/hello/code").json()
    assert before["version"] == "one"
    handlers = app / "src" / "handlers.py"
    handlers.write_text(handlers.read_text().replace('"version": "one"', '"version": "two"'))
    after = _get(server, "/_apps/demo/hello/code").json()
    assert after["version"] == "two"
    assert after["pid"] != before["pid"]


def test_apps_index_lists_urls(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    [app] = _get(server, "/_apps/").json()["apps"]
    assert app["name"] == "demo" and app["url"].endswith("/_apps/demo/")
    assert sorted(app["functions"]) == ["Aws", "Crash", "Echo", "Hello", "Slow"]
    urls = [api["url"] for api in app["apis"]]
    assert any("/_user_request_/" in url for url in urls)
    assert _get(server, "/_apps/nope/x").status_code == 404
    page = _get(server, "/_apps/", headers={"accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html") and 'href="http' in page.text
    assert "GET /hello/{name} → Hello" in page.text


def _log_messages(logs: Any, group: str, text: str) -> list[str]:
    deadline = time.monotonic() + 10
    while True:
        events = logs.filter_log_events(logGroupName=group, filterPattern=f'"{text}"')["events"]
        if events or time.monotonic() > deadline:
            return [e["message"] for e in events]
        time.sleep(0.2)


def test_a_burst_waits_without_starving_the_server(demo: tuple[RunningServer, Path]) -> None:
    """80 requests to one function (4 at a time): the rest of the server keeps answering meanwhile."""
    server, _ = demo
    with ThreadPoolExecutor(80) as pool:
        calls = [pool.submit(_get, server, "/_apps/demo/echo/burst?sleep=0.5") for _ in range(80)]
        time.sleep(1.0)
        started = time.monotonic()
        identity = server.client("sts").get_caller_identity()
        assert identity["Account"] == "000000000000"
        waited = time.monotonic() - started
        queued = sum(not call.done() for call in calls)
        assert waited < 5, waited
        assert queued > 10, queued  # the burst was still queued while STS answered
        assert all(call.result().status_code == 200 for call in calls)


def test_host_form_through_the_gateway(demo: tuple[RunningServer, Path]) -> None:
    """`http://<apiId>.execute-api.localhost.localstack.cloud:<port>/<stage>/<path>` end to end."""
    server, _ = demo
    api = api_ids(server)["demo"]["REST:v1"]
    host = f"{api}.execute-api.localhost.localstack.cloud:{server.port}"
    response = _get(server, "/v1/hello/by-host", headers={"host": host})
    ours = (
        "x-amzn-requestid" in response.headers
        and response.headers.get("x-amzn-errortype") != "UnknownOperation"
    )
    if not ours:  # another mount (the OpenAI API's /v1/) or the AWS router answered, not API Gateway
        pytest.skip("the gateway does not hand `*.execute-api.*` hosts to /_outcrop/execute-api/ yet")
    assert response.status_code == 200 and response.json()["message"] == "Hello, by-host"


def test_cors_preflight_and_headers(demo: tuple[RunningServer, Path]) -> None:
    server, _ = demo
    asking = {"origin": "http://localhost:3000", "access-control-request-method": "POST"}
    rest = httpx.options(f"{server.endpoint}/_apps/demo/hello/x", headers=asking, timeout=30)
    assert rest.status_code == 200 and rest.content == b""
    assert rest.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert rest.headers["access-control-allow-methods"] == "GET,POST"
    assert rest.headers["access-control-allow-headers"] == "Content-Type"
    assert rest.headers["access-control-max-age"] == "600"
    stranger = httpx.options(
        f"{server.endpoint}/_apps/demo/hello/x", headers={**asking, "origin": "http://evil.test"}, timeout=30
    )
    assert "access-control-allow-origin" not in stranger.headers
    # a REST API leaves CORS headers on real answers to the handler
    assert "access-control-allow-origin" not in _get(server, "/_apps/demo/hello/x", headers=asking).headers
    http = httpx.options(f"{server.endpoint}/_apps/demo/echo/a", headers=asking, timeout=30)
    assert http.status_code == 204 and http.headers["access-control-allow-origin"] == "*"
    answer = _get(server, "/_apps/demo/short", headers={"origin": "http://anywhere.test"})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-expose-headers"] == "x-multi"
    # without CORS settings an OPTIONS request is an ordinary request: `ANY /crash` runs (and fails)
    assert httpx.options(f"{server.endpoint}/_apps/demo/crash", headers=asking, timeout=30).status_code == 502
