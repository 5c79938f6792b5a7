"""CORS on the OpenAI-compatible routes: only the console's own origin and the configured allowed_origins
get preflights and Access-Control-Allow-Origin; a page elsewhere cannot drive the models (dev mode takes any
key, so a simple cross-site POST is refused outright)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.server import RunningServer

APP = "http://localhost:3000"
EVIL = "http://evil.example"
ASK = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type",
}
CHAT = {"model": "anthropic.claude-3-haiku-20240307-v1:0", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data: Path = tmp_path_factory.mktemp("cors") / "data"
    running = RunningServer(data, extra_env={"OUTCROP_ALLOWED_ORIGINS": APP}).start()
    yield running
    running.stop()


def test_configured_origin_gets_preflight_and_allow_origin(configured: RunningServer) -> None:
    url = configured.endpoint + "/v1/chat/completions"
    preflight = httpx.options(url, headers={**ASK, "origin": APP})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == APP
    assert preflight.headers["access-control-allow-headers"] == "authorization, content-type"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["vary"] == "Origin"
    answer = httpx.post(url, json=CHAT, headers={"origin": APP, "authorization": "Bearer k"}, timeout=60)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP
    assert "x-amzn-bedrock-guardrail-action" in answer.headers["access-control-expose-headers"]


def test_other_origins_are_refused(configured: RunningServer) -> None:
    url = configured.endpoint + "/v1/chat/completions"
    preflight = httpx.options(url, headers={**ASK, "origin": EVIL})
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.json()["error"]["code"] == "origin_not_allowed"
    # a <form enctype="text/plain"> needs no preflight: the request itself is refused, the model never runs
    forged = httpx.post(url, content=b'{"model": "x", "messages": []}', headers={"origin": EVIL}, timeout=10)
    assert forged.status_code == 403 and "access-control-allow-origin" not in forged.headers
    assert "allowed_origins" in forged.json()["error"]["message"]
    listing = httpx.get(configured.endpoint + "/v1/models", headers={"sec-fetch-site": "cross-site"})
    assert listing.status_code == 403
    assert httpx.options(url, headers=ASK).status_code == 403  # no Origin: not a browser's preflight


def test_console_origin_and_plain_clients_still_work(server: RunningServer) -> None:
    """The shared server configures no origin: the console's own page and the openai client still work."""
    models = httpx.get(server.endpoint + "/v1/models", headers={"origin": server.endpoint}, timeout=10)
    assert models.status_code == 200
    assert models.headers["access-control-allow-origin"] == server.endpoint
    assert httpx.get(server.endpoint + "/v1/models", headers={"origin": APP}).status_code == 403
    client = openai.OpenAI(base_url=server.endpoint + "/v1", api_key="any", max_retries=0)
    assert len(client.models.list().data) > 10
