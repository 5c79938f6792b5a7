"""Gateway behaviours over real HTTP: retries that reuse an invocation id, health, unknown routes."""

from __future__ import annotations

from pathlib import Path

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def usage_calls(server: RunningServer) -> int:
    usage = httpx.get(f"{server.endpoint}/_outcrop/health").json()["usage"]
    return int(usage.get(HAIKU, {}).get("calls", 0))


def test_retry_with_the_same_invocation_id_does_not_generate_twice(server: RunningServer) -> None:
    url = f"{server.endpoint}/model/{HAIKU}/converse"
    body = {"messages": [{"role": "user", "content": [{"text": "only once please"}]}]}
    headers = {"authorization": "Bearer k", "amz-sdk-invocation-id": "5f6a4c1e-0000-4000-8000-000000000001"}
    before = usage_calls(server)
    first = httpx.post(url, json=body, headers=headers)
    retry = httpx.post(url, json=body, headers=headers)
    assert first.status_code == retry.status_code == 200
    assert first.json() == retry.json()
    assert usage_calls(server) == before + 1
    fresh = httpx.post(url, json=body, headers={**headers, "amz-sdk-invocation-id": "another-id"})
    assert fresh.status_code == 200
    assert usage_calls(server) == before + 2


def test_only_the_newest_delivered_results_wait_for_a_retry(server: RunningServer) -> None:
    """Issue 18: every answer kept 120 s for a retry held ~9,000 of them under a soak. An answer its
    client got waits only while among the newest 256; a retry of an older one generates again."""
    url = f"{server.endpoint}/model/{HAIKU}/converse"
    body = {"messages": [{"role": "user", "content": [{"text": "remember me"}]}]}
    headers = {"authorization": "Bearer k"}
    with httpx.Client() as http:
        for number in range(300):
            sent = http.post(
                url, json=body, headers={**headers, "amz-sdk-invocation-id": f"bounded-{number}"}
            )
            assert sent.status_code == 200
        before = usage_calls(server)
        recent = http.post(url, json=body, headers={**headers, "amz-sdk-invocation-id": "bounded-299"})
        assert recent.status_code == 200 and usage_calls(server) == before  # answered from memory
        oldest = http.post(url, json=body, headers={**headers, "amz-sdk-invocation-id": "bounded-0"})
        assert oldest.status_code == 200 and usage_calls(server) == before + 1  # forgotten: run again


def test_a_retry_of_an_error_runs_the_call_again(server: RunningServer) -> None:
    """An SDK retries a throttled call, or one whose resource was not ready, under the same invocation
    id: the retry must run again, not read the remembered error back."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="retry-after-error")
    url = f"{server.endpoint}/retry-after-error/late.txt"
    headers = {"amz-sdk-invocation-id": "5f6a4c1e-0000-4000-8000-00000000e404"}
    assert httpx.get(url, headers=headers).status_code == 404
    s3.put_object(Bucket="retry-after-error", Key="late.txt", Body=b"here now")
    retried = httpx.get(url, headers=headers)
    assert retried.status_code == 200 and retried.content == b"here now"


def test_health_names_services_and_models(server: RunningServer) -> None:
    health = httpx.get(f"{server.endpoint}/_outcrop/health").json()
    assert health["status"] == "running"
    for service in ("bedrock", "bedrock-runtime", "s3", "sts", "logs"):
        assert health["services"][service] == "available"
    assert {"qwen2.5-coder-0.5b", "all-minilm-l6-v2"} <= set(health["models"])
    assert health["models"]["qwen2.5-coder-0.5b"]["state"] in ("not_loaded", "loading", "ready")


def test_unknown_route_is_a_clean_404(server: RunningServer) -> None:
    response = httpx.post(f"{server.endpoint}/no/such/thing", headers={"authorization": "Bearer k"})
    assert response.status_code == 404
    assert response.headers["x-amzn-errortype"] == "UnknownOperationException"
    assert "No operation" in response.json()["message"]


def test_unsigned_request_matching_only_an_s3_uri_is_a_client_error(server: RunningServer) -> None:
    response = httpx.post(f"{server.endpoint}/no/such/thing")
    assert response.status_code == 400
    assert "<Code>InvalidRequest</Code>" in response.text
    assert "UploadId" in response.text


def test_keys_mode_admits_only_configured_keys(tmp_path: Path) -> None:
    env = {
        "OUTCROP_AUTH": "keys",
        "OUTCROP_ACCESS_KEYS": "AKIAOUTCROPTEST",
        "OUTCROP_API_KEYS": "good-api-key",
    }
    strict = RunningServer(tmp_path / "data", extra_env=env).start()
    try:
        assert strict.client("sts").get_caller_identity()["UserId"] == "AKIAOUTCROPTEST"
        stranger = boto3.client(
            "sts",
            endpoint_url=strict.endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIASTRANGER",
            aws_secret_access_key="x",
        )
        with pytest.raises(ClientError) as caught:
            stranger.get_caller_identity()
        assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"  # as STS names it
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        for service, call, code in [
            ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId"),
            ("lambda", lambda c: c.list_functions(), "UnrecognizedClientException"),
        ]:
            client = boto3.client(
                service,
                endpoint_url=strict.endpoint,
                region_name="us-east-1",
                aws_access_key_id="AKIASTRANGER",
                aws_secret_access_key="x",
            )
            with pytest.raises(ClientError) as caught:
                call(client)
            assert caught.value.response["Error"]["Code"] == code
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        url = f"{strict.endpoint}/model/{HAIKU}/converse"
        body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
        assert httpx.post(url, json=body, headers={"authorization": "Bearer good-api-key"}).status_code == 200
        assert httpx.post(url, json=body, headers={"authorization": "Bearer bad-key"}).status_code == 403
    finally:
        strict.stop()


def test_a_body_over_the_configured_limit_is_refused_with_413(tmp_path: Path) -> None:
    small = RunningServer(tmp_path / "data", extra_env={"OUTCROP_MAX_REQUEST_MB": "1"}).start()
    try:
        response = httpx.post(
            f"{small.endpoint}/model/{HAIKU}/invoke",
            content=b"x" * (2 * 1024**2),
            headers={"authorization": "Bearer k", "content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.headers["x-amzn-errortype"] == "RequestEntityTooLarge"
        assert small.client("sts").get_caller_identity()["Account"] == "000000000000"
    finally:
        small.stop()
