"""Long JSON answers keep the connection alive (protocol/keepalive.py), seen through boto3 with a read timeout
shorter than the call: a Converse that outlasts it still answers; one that fails after its 200 went out is
a broken response, never a success; answers with header members are never kept alive."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from botocore.session import get_session

from outcrop.protocol.auth import DevAuthenticator
from outcrop.protocol.errors import ValidationException
from outcrop.protocol.gateway import Gateway, GatewaySettings
from outcrop.protocol.keepalive import keeps_alive
from outcrop.services.base import RequestContext, Service
from tests.server import free_port

SLOW = 3.0  # seconds a slow call runs: well past the client's read timeout, many keep-alive spaces long
READ_TIMEOUT = 1.5
KEEPALIVE = 0.3


class SlowModels(Service):
    """Bedrock Runtime whose calls take SLOW seconds when the prompt says "slow", and fail when it says
    "fail"."""

    service_name = "bedrock-runtime"

    async def converse(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prompt = params["messages"][0]["content"][0]["text"]
        if "slow" in prompt or "fail" in prompt:
            await asyncio.sleep(SLOW)
        if "fail" in prompt:
            raise ValidationException("This prompt fails late.")
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": f"answer to {prompt}"}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 3, "outputTokens": 3, "totalTokens": 6},
            "metrics": {"latencyMs": 1},
        }

    async def invoke_model(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(SLOW)
        return {"body": b"{}", "contentType": "application/json"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    gateway = Gateway(
        {"bedrock-runtime": SlowModels()},
        DevAuthenticator(),
        GatewaySettings(keepalive_seconds=KEEPALIVE),
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(gateway, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def client(endpoint: str) -> Any:
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(read_timeout=READ_TIMEOUT, retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def converse(endpoint: str, prompt: str) -> dict[str, Any]:
    messages = [{"role": "user", "content": [{"text": prompt}]}]
    answer: dict[str, Any] = client(endpoint).converse(modelId="any.model-v1:0", messages=messages)
    return answer


def test_a_call_longer_than_the_read_timeout_still_answers(endpoint: str) -> None:
    started = time.monotonic()
    answer = converse(endpoint, "a slow question")
    assert time.monotonic() - started >= SLOW
    assert answer["output"]["message"]["content"][0]["text"] == "answer to a slow question"
    assert answer["usage"]["totalTokens"] == 6
    headers = answer["ResponseMetadata"]["HTTPHeaders"]
    assert headers.get("transfer-encoding") == "chunked" and "content-length" not in headers
    assert answer["ResponseMetadata"]["RequestId"]


def test_a_quick_call_answers_as_always(endpoint: str) -> None:
    answer = converse(endpoint, "a quick question")
    assert answer["output"]["message"]["content"][0]["text"] == "answer to a quick question"
    assert "content-length" in answer["ResponseMetadata"]["HTTPHeaders"]


def test_a_call_failing_after_its_200_is_a_broken_response_not_a_success(endpoint: str) -> None:
    with pytest.raises(BotoCoreError) as raised:
        converse(endpoint, "fail late")
    assert not isinstance(raised.value, ReadTimeoutError)  # the spaces kept it alive until the failure


def test_an_answer_with_header_members_is_not_kept_alive(endpoint: str) -> None:
    """InvokeModel's content type and token counts are headers: it cannot start before it ends."""
    with pytest.raises((ReadTimeoutError, ClientError)):
        client(endpoint).invoke_model(modelId="any.model-v1:0", body=b"{}")


@pytest.mark.parametrize(
    ("service", "operation", "protocol", "expected"),
    [
        ("bedrock-runtime", "Converse", "rest-json", True),
        ("bedrock-agent-runtime", "RetrieveAndGenerate", "rest-json", True),
        ("textract", "AnalyzeDocument", "json", True),  # awsJson: the whole answer in the body
        ("textract", "AnalyzeDocument", "smithy-rpc-v2-cbor", False),  # CBOR has no ignorable filler
        ("bedrock-runtime", "InvokeModel", "rest-json", False),  # a blob payload with header members
        ("bedrock-runtime", "ConverseStream", "rest-json", False),  # an event stream is alive by itself
        ("sagemaker-runtime", "InvokeEndpoint", "rest-json", False),
        ("s3", "ListObjectsV2", "rest-xml", False),
        ("iam", "ListUsers", "query", False),
    ],
)
def test_which_answers_may_be_kept_alive(service: str, operation: str, protocol: str, expected: bool) -> None:
    model = get_session().get_service_model(service)
    assert keeps_alive(model.operation_model(operation), protocol) is expected
