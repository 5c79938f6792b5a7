"""Bad input to the web surfaces: OpenAI-shaped errors from /v1, API Gateway's {"message"} from app routes.

Non-JSON bodies, unknown models, wrong types, content the text-only chat path would drop, unknown APIs and
asset paths that try to leave the console's folder: each gets a 4xx in the shape its clients read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.lambdas.apps import APPS, api_ids, app_server
from tests.server import RunningServer
from tests.services.bad_inputs import unhandled_errors

CHAT = "anthropic.claude-3-haiku-20240307-v1:0"
EMBED = "amazon.titan-embed-text-v2:0"


@pytest.fixture(scope="module", autouse=True)
def log_start(server: RunningServer) -> int:
    """Where the server log stood before this module's calls."""
    return server.log_path.stat().st_size


# -- OpenAI-compatible API -----------------------------------------------------------------------------------


def _openai_error(response: httpx.Response, status: int, param: str | None = None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and len(error["message"]) > 10
    if param is not None:
        assert error["param"] == param
    message: str = error["message"]
    return message


def test_openai_chat_refuses_malformed_bodies(server: RunningServer) -> None:
    url = server.endpoint + "/v1/chat/completions"
    hi = [{"role": "user", "content": "hi"}]

    def post(**kwargs: Any) -> httpx.Response:
        return httpx.post(url, timeout=60, **kwargs)

    _openai_error(post(content=b"\xff\xfe not json"), 400)
    _openai_error(post(content=b""), 400)
    _openai_error(post(json=[1, 2]), 400)
    _openai_error(post(json={"messages": hi}), 400, "model")
    assert "gpt-9" in _openai_error(post(json={"model": "gpt-9", "messages": hi}), 404, "model")
    _openai_error(post(json={"model": EMBED, "messages": hi}), 400, "model")
    _openai_error(post(json={"model": CHAT, "messages": []}), 400, "messages")
    _openai_error(post(json={"model": CHAT, "messages": "hi"}), 400)
    _openai_error(post(json={"model": CHAT, "messages": [{"content": "hi"}]}), 400)
    _openai_error(post(json={"model": CHAT, "messages": hi, "temperature": 99}), 400, "temperature")
    _openai_error(post(json={"model": CHAT, "messages": hi, "max_tokens": -1}), 400, "max_tokens")
    _openai_error(post(json={"model": CHAT, "messages": hi, "n": 2}), 400, "n")
    _openai_error(post(json={"model": CHAT, "messages": hi, "stream": "yes"}), 400)
    _openai_error(post(json={"model": CHAT, "messages": hi, "response_format": {"type": "xml"}}), 400)
    _openai_error(
        post(
            json={
                "model": CHAT,
                "messages": hi,
                "tool_choice": {"type": "function", "function": {"name": "x"}},
            }
        ),
        400,
    )
    _openai_error(httpx.get(url, timeout=10), 405)


def test_openai_chat_refuses_parts_it_would_otherwise_drop(server: RunningServer) -> None:
    url = server.endpoint + "/v1/chat/completions"
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}
    look = [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, image]}]
    message = _openai_error(
        httpx.post(url, json={"model": CHAT, "messages": look}, timeout=60),
        400,
        "messages[0].content[1].type",
    )
    assert "text only" in message
    odd = [{"role": "user", "content": [{"type": "weird"}]}]
    _openai_error(
        httpx.post(url, json={"model": CHAT, "messages": odd}, timeout=60), 400, "messages[0].content[0]"
    )
    orphan = [{"role": "user", "content": "hi"}, {"role": "tool", "content": "18 degrees"}]
    _openai_error(
        httpx.post(url, json={"model": CHAT, "messages": orphan}, timeout=60), 400, "messages[1].tool_call_id"
    )
    stray = [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_9", "content": "18"}]
    assert "call_9" in _openai_error(
        httpx.post(url, json={"model": CHAT, "messages": stray}, timeout=60), 400, "messages[1].tool_call_id"
    )
    smuggled = b'{"model": "%s", "messages": [{"role": "user", "content": "caf\\ud800e"}]}' % CHAT.encode()
    _openai_error(httpx.post(url, content=smuggled, timeout=60), 400)
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    assert httpx.post(url, json={"model": CHAT, "messages": parts}, timeout=60).status_code == 200


def test_openai_embeddings_and_models_refuse_bad_inputs(server: RunningServer) -> None:
    url = server.endpoint + "/v1/embeddings"

    def post(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(url, json=body, timeout=60)

    _openai_error(httpx.post(url, content=b"nope", timeout=10), 400)
    _openai_error(post({"model": EMBED}), 400, "input")
    _openai_error(post({"model": EMBED, "input": ""}), 400, "input")
    _openai_error(post({"model": EMBED, "input": [1, 2, 3]}), 400, "input")
    _openai_error(post({"model": EMBED, "input": ["a"] * 3000}), 400, "input")
    _openai_error(post({"model": EMBED, "input": "a", "dimensions": 100_000}), 400, "dimensions")
    _openai_error(post({"model": EMBED, "input": "a", "encoding_format": "hex"}), 400, "encoding_format")
    _openai_error(post({"model": "nope", "input": "a"}), 404, "model")
    _openai_error(post({"model": CHAT, "input": "a"}), 400, "model")
    _openai_error(httpx.get(server.endpoint + "/v1/models/nope", timeout=10), 404, "model")
    _openai_error(httpx.post(server.endpoint + "/v1/models", timeout=10), 405)
    _openai_error(httpx.post(server.endpoint + "/v1/completions", json={"model": CHAT}, timeout=10), 404)


# -- API Gateway and the console -----------------------------------------------------------------------------


def test_api_gateway_and_console_answer_unknown_paths_plainly(server: RunningServer) -> None:
    def get(path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(server.endpoint + path, timeout=10, **kwargs)

    for response in (
        get("/restapis/nosuchapi0/v1/_user_request_/x"),
        get("/restapis/abc"),
        get("/_apps/nosuch/x"),
        get("/x", headers={"Host": "nosuchapi0.execute-api.localhost.localstack.cloud:4566"}),
    ):
        assert response.status_code == 404
        assert len(response.json()["message"]) > 10  # API Gateway's {"message": ...} shape
    assert get("/_outcrop/console/no-such-asset.js").status_code == 404
    escape = get("/_outcrop/console/%2e%2e/%2e%2e/pyproject.toml")
    assert escape.status_code == 404 and b"[project]" not in escape.content


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with app_server(tmp_path_factory.mktemp("bad-inputs-apps"), APPS / "demo") as (server, _):
        yield server


def test_api_gateway_refuses_bodies_over_its_payload_quota(demo: RunningServer) -> None:
    rest = api_ids(demo)["demo"]["REST:v1"]
    oversized = b"x" * (10 * 1024 * 1024 + 1)
    for path in ("/_apps/demo/echo/a", f"/restapis/{rest}/v1/_user_request_/boom"):
        response = httpx.post(demo.endpoint + path, content=oversized, timeout=60)
        assert response.status_code == 413, path
        assert response.json() == {"message": "Request Too Long"}
    fits = httpx.post(demo.endpoint + "/_apps/demo/echo/a", content=b"x" * 1024, timeout=60)
    assert fits.status_code == 200
    assert not unhandled_errors(demo, 0)


# -- the log -------------------------------------------------------------------------------------------------


def test_the_server_log_shows_no_unhandled_error(server: RunningServer, log_start: int) -> None:
    """Runs last: every refusal above was a modelled error, not an unhandled exception."""
    assert not unhandled_errors(server, log_start)
