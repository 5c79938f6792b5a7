"""The guide's application (examples/guide-chat) end to end: page from S3, API Gateway, Lambda, Bedrock,
and RAG with citations once a knowledge base is configured. Fake models, except the test marked real."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import browser_page, requires_chromium, take_screenshot
from tests.lambdas.apps import GUIDE_CHAT, api_ids, app_server
from tests.server import RunningServer
from tests.services.knowledge_bases import create_data_source, create_knowledge_base, fill_bucket, ingest

APP = "/_apps/guide-chat"


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with app_server(tmp_path_factory.mktemp("guide-chat"), GUIDE_CHAT) as (server, _):
        yield server


@pytest.fixture(scope="module")
def rag(chat: RunningServer) -> RunningServer:
    """The same server restarted with a knowledge base, as `--parameter-overrides KnowledgeBaseId=...`."""
    agent = chat.client("bedrock-agent")
    kb_id = create_knowledge_base(agent)
    data_source = create_data_source(agent, kb_id, fill_bucket(chat.client("s3")))
    assert ingest(agent, kb_id, data_source)["status"] == "COMPLETE"
    chat.extra_env["OUTCROP_APP_PARAMETERS"] = f"KnowledgeBaseId={kb_id}"
    chat.restart()
    return chat


def _streamed(server: RunningServer, message: str) -> dict[str, Any]:
    started = httpx.post(f"{server.endpoint}{APP}/chat/stream", json={"message": message}, timeout=60)
    assert started.status_code == 202
    answer_id = started.json()["id"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        answer: dict[str, Any] = httpx.get(
            f"{server.endpoint}{APP}/chat/stream/{answer_id}", timeout=30
        ).json()
        if answer["done"]:
            return answer
        time.sleep(0.1)
    raise AssertionError("the streamed answer never finished")


def _log_lines(server: RunningServer, group: str, pattern: str, *, at_least: int = 1) -> list[str]:
    """Lines of the function's log group matching `pattern`; logs are shipped just after the answer."""
    logs = server.client("logs")
    deadline = time.monotonic() + 10
    while True:
        events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
        if len(events) >= at_least or time.monotonic() > deadline:
            return [e["message"] for e in events]
        time.sleep(0.1)


def test_the_guides_handler_answers_post_chat(chat: RunningServer) -> None:
    response = httpx.post(f"{chat.endpoint}{APP}/chat", json={"message": "What is Outcrop?"}, timeout=120)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == {"response": "You said: What is Outcrop?"}
    api = api_ids(chat)["guide-chat"]["REST:prod"]
    url = f"{chat.endpoint}/restapis/{api}/prod/_user_request_/chat"
    again = httpx.post(url, json={"message": "again"}, timeout=120)
    assert again.json() == {"response": "You said: again"}
    reports = _log_lines(chat, "/aws/lambda/ChatFunction", '"REPORT RequestId"', at_least=2)
    assert len(reports) >= 2
    assert all("Duration:" in line and "Memory Size: 512 MB" in line for line in reports)


def test_the_guides_error_branch(chat: RunningServer) -> None:
    """A body without `message`: the guide's own except branch logs with Powertools and answers 500."""
    response = httpx.post(f"{chat.endpoint}{APP}/chat", json={"text": "wrong field"}, timeout=120)
    assert response.status_code == 500 and response.json() == {"error": "Internal server error"}
    [line] = _log_lines(chat, "/aws/lambda/ChatFunction", '"Error:"')
    record = json.loads(line)  # Powertools writes structured JSON lines
    assert record["level"] == "ERROR" and record["message"] == "Error: 'message'"
    assert record["service"] == "guide-chat"


def test_streamed_answer(chat: RunningServer) -> None:
    answer = _streamed(chat, "Tell me about lava")
    assert answer["text"] == "You said: Tell me about lava"
    assert answer["rag"] is False and answer["citations"] == [] and "error" not in answer


def test_page_is_served_from_its_s3_bucket(chat: RunningServer) -> None:
    page = httpx.get(f"{chat.endpoint}{APP}/", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="chat.js">' in page.text
    script = httpx.get(f"{chat.endpoint}{APP}/chat.js", timeout=30)
    assert "chat/stream" in script.text and "javascript" in script.headers["content-type"]
    bucket = chat.client("s3").list_objects_v2(Bucket="guide-chat-websitebucket")
    assert {o["Key"] for o in bucket["Contents"]} >= {"index.html", "chat.js", "chat.css"}
    assert httpx.get(f"{chat.endpoint}{APP}", timeout=30).status_code == 308
    assert httpx.get(f"{chat.endpoint}{APP}/missing.png", timeout=30).status_code == 404
    assert httpx.get(f"{chat.endpoint}{APP}/chat%2Ecss", timeout=30).status_code == 200  # keys are decoded


def test_rag_answer_cites_its_sources(rag: RunningServer) -> None:
    answer = _streamed(rag, "Why do indoor cats need a feather wand?")
    assert answer["rag"] is True and answer["text"].startswith("You said: ")
    assert answer["citations"], answer
    references = [r for c in answer["citations"] for r in c["references"]]
    cats = next(r for r in references if r["uri"].endswith("/docs/cats.html"))
    assert "feather wand" in cats["text"]
    source = httpx.get(f"{rag.endpoint}{APP}/source", params={"uri": cats["uri"]}, timeout=30)
    assert source.status_code == 200 and "Caring for cats" in source.text
    assert httpx.get(f"{rag.endpoint}{APP}/source", params={"uri": "nope"}, timeout=30).status_code == 400


@requires_chromium
def test_browser_chat_with_citations(rag: RunningServer, tmp_path: Path) -> None:
    with browser_page() as page:
        page.goto(f"{rag.endpoint}{APP}/")
        page.fill("#message", "Why do indoor cats need a feather wand?")
        page.click("#send")
        page.wait_for_selector("#messages li.assistant .meta")
        answer = page.inner_text("#messages li.assistant")
        assert "You said: Why do indoor cats need a feather wand?" in answer and "knowledge base" in answer
        shot = take_screenshot(page, "guide-chat-answer", directory=tmp_path)
        shot.assert_rendered()
        page.click("sup.cite a >> nth=0")
        page.wait_for_selector("#source-dialog[open]")
        passages = page.inner_text("#source-passages")
        assert "feather wand" in passages or "cats" in passages.lower()
        take_screenshot(page, "guide-chat-citation", directory=tmp_path).assert_rendered()
        page.click("#source-close")
        page.uncheck("#stream")
        page.fill("#message", "plain mode")
        page.click("#send")
        page.wait_for_function("document.querySelectorAll('#messages li.assistant .meta').length == 2")
        assert "You said: plain mode" in page.inner_text("#messages li.assistant >> nth=1")
        assert page.outcrop_errors == []


@pytest.mark.real
def test_the_guides_handler_with_a_real_model(tmp_path: Path) -> None:
    with app_server(tmp_path, GUIDE_CHAT, fake_models=False) as (server, _):
        question = "What is the capital of France? Answer with one word."
        response = httpx.post(f"{server.endpoint}{APP}/chat", json={"message": question}, timeout=300)
        assert response.status_code == 200, response.text
        assert "paris" in response.json()["response"].lower()
        streamed = _streamed(server, question)
        assert "error" not in streamed and "paris" in streamed["text"].lower()
