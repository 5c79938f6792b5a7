"""The web console: its files as served, then its main flows in real headless Chromium (fake models)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import Screenshot, browser_page, requires_chromium, take_screenshot
from tests.server import RunningServer

CONSOLE = "/_outcrop/console/"
STATIC = Path(__file__).resolve().parents[2] / "src" / "outcrop" / "web" / "static" / "console"
SIDEBAR = (31, 42, 55)  # --ink
USER_BUBBLE = (219, 231, 251)
GOOD = (31, 138, 76)  # the finished progress bar


def near(actual: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 6) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def inside(shot: Screenshot, page: Any, selector: str, dx: float, dy: float) -> tuple[int, int, int]:
    """The screenshot's colour at an offset (fractions of the box) inside the first element matching."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not on screen"
    return shot.color_at(int(box["x"] + box["width"] * dx), int(box["y"] + box["height"] * dy))


# -- the files ---------------------------------------------------------------------------------------------


def test_console_page_and_assets_are_served(server: RunningServer) -> None:
    page = httpx.get(server.endpoint + CONSOLE)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:href|src)="(/_outcrop/console/[^"]+)"', page.text)
    assert len(assets) >= 3
    for path in assets:
        response = httpx.get(server.endpoint + path)
        assert response.status_code == 200, path
    script = httpx.get(server.endpoint + CONSOLE + "app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    redirect = httpx.get(server.endpoint + CONSOLE.rstrip("/"))
    assert redirect.status_code == 308 and redirect.headers["location"] == CONSOLE


def test_console_is_the_home_page_and_presigned_urls_still_reach_s3(server: RunningServer) -> None:
    home = httpx.get(server.endpoint + "/")
    assert home.status_code == 200 and "<title>Outcrop console</title>" in home.text
    s3 = server.client("s3")
    s3.create_bucket(Bucket="console-home")
    s3.put_object(Bucket="console-home", Key="a.txt", Body=b"presigned body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "console-home", "Key": "a.txt"})
    assert httpx.get(url).content == b"presigned body"
    listing = s3.generate_presigned_url("list_buckets")
    assert b"console-home" in httpx.get(listing).content
    assert httpx.get(server.endpoint + "/no-such-bucket/key").status_code == 404


def test_no_asset_comes_from_elsewhere() -> None:
    for path in STATIC.iterdir():
        text = path.read_text()
        external = re.findall(r"""(?:src|href|import[^"']*from|url\()\s*=?\s*["']?(https?:)?//""", text)
        assert not external, f"{path.name} loads something from another origin"
        assert "cdn" not in text.lower(), path.name


@pytest.mark.parametrize(
    "path", ["../server.py", "..%2F..%2Fserver.py", ".hidden", "missing.js", "static/console/app.js"]
)
def test_only_console_files_are_served(server: RunningServer, path: str) -> None:
    assert httpx.get(server.endpoint + CONSOLE + path).status_code == 404


def test_console_files_are_read_only(server: RunningServer) -> None:
    assert httpx.post(server.endpoint + CONSOLE + "app.js", content=b"x").status_code == 405


# -- in the browser ---------------------------------------------------------------------------------------


@pytest.fixture
def console(server: RunningServer) -> Iterator[Any]:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # a first knowledge base loads LanceDB; the machine is shared
    with browser_page() as page:
        page.goto(server.endpoint + CONSOLE)
        page.wait_for_selector("#pg-model option", state="attached")
        yield page
        assert page.outcrop_errors == [], (page.outcrop_errors, page.outcrop_failed_responses)


@requires_chromium
def test_playground_streams_an_answer(console: Any) -> None:
    from playwright.sync_api import expect

    page = console
    assert page.locator("#pg-model").input_value() == "anthropic.claude-3-haiku-20240307-v1:0"
    page.fill("#pg-max-tokens", "64")
    page.fill("#pg-input", "tell me about basalt columns")
    with page.expect_response("**/v1/chat/completions") as answered:
        page.press("#pg-input", "Enter")
    response = answered.value
    assert response.headers["content-type"].startswith("text/event-stream")
    body = response.text()
    assert body.count("data: ") >= 6 and body.rstrip().endswith("data: [DONE]")
    expect(page.locator("#pg-stats")).to_contain_text("tokens in")
    assistant = page.locator(".msg.assistant").last
    expect(assistant).to_have_text("You said: tell me about basalt columns")
    assert "pending" not in (assistant.get_attribute("class") or "")
    stats = page.inner_text("#pg-stats")
    assert re.search(r"out 7 .*first token \d+ ms .*total \d+ ms", stats), stats
    assert "finish: stop" in stats

    page.select_option("#pg-format", "json_object")
    page.uncheck("#pg-stream")
    page.fill("#pg-input", "json please")
    page.click("#pg-send")
    reply = page.locator(".msg.assistant").last
    expect(reply).to_have_text('{"response": "json please"}')
    page.select_option("#pg-format", "text")
    page.check("#pg-stream")

    shot = take_screenshot(page, "console-playground")
    shot.assert_rendered()
    assert near(shot.color_at(8, 600), SIDEBAR)
    assert near(inside(shot, page, ".msg.user", 0.99, 0.5), USER_BUBBLE, 12)


@requires_chromium
def test_knowledge_base_ingest_retrieve_and_chat_with_citations(console: Any) -> None:
    from playwright.sync_api import expect

    page = console
    page.click("button.nav[data-tab=kb]")
    page.wait_for_selector("#kb-embedding option", state="attached")
    page.fill("#kb-name", "geology-notes")
    page.fill("#kb-chunk-tokens", "40")
    page.click("#kb-create-button")
    expect(page.locator("#kb-title")).to_have_text("geology-notes")
    expect(page.locator("#kb-list")).to_contain_text("geology-notes")
    page.set_input_files(
        "#kb-files",
        [
            {
                "name": "volcanoes.txt",
                "mimeType": "text/plain",
                "buffer": b"Volcanoes erupt when magma rises through the crust. Basaltic lava is runny "
                b"while rhyolite magma is sticky and traps gas.",
            },
            {
                "name": "volcanoes.txt.metadata.json",
                "mimeType": "application/json",
                "buffer": b'{"metadataAttributes": {"topic": "geology"}}',
            },
            {
                "name": "coffee.md",
                "mimeType": "text/markdown",
                "buffer": b"# Coffee\n\nA pour-over needs water at ninety-four degrees and a medium grind.",
            },
        ],
    )
    page.click("#kb-upload")
    expect(page.locator("#kb-job-status")).to_have_text("COMPLETE", timeout=60_000)
    expect(page.locator("#kb-job-counts")).to_contain_text("indexed 2")
    expect(page.locator("#kb-docs tbody tr")).to_have_count(2)
    expect(page.locator("#kb-docs")).not_to_contain_text("FAILED")

    page.fill("#kb-query", "sticky magma traps gas")
    page.click("#kb-retrieve")
    expect(page.locator("#kb-results .hit")).to_have_count(2)
    first = page.locator("#kb-results .hit").first
    expect(first).to_contain_text("volcanoes.txt")
    scores = [float(s) for s in page.locator("#kb-results .hit-score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1

    page.fill("#kb-filter", '{"equals": {"key": "topic", "value": "geology"}}')
    page.fill("#kb-query", "coffee water grind")
    page.click("#kb-retrieve")
    expect(page.locator("#kb-results .hit")).to_have_count(1)
    expect(page.locator("#kb-results .hit")).to_contain_text("Volcanoes erupt")
    expect(page.locator("#kb-results .meta")).to_contain_text('topic="geology"')

    page.locator("#kb-docs tr", has_text="coffee.md").locator("button.chunks").click()
    expect(page.locator("#kb-chunks h3")).to_have_text(re.compile(r"Chunks of coffee\.md: [1-9]"))
    expect(page.locator("#kb-chunks")).to_contain_text("pour-over")
    expect(page.locator("#kb-chunks")).not_to_contain_text("Volcanoes")

    shot = take_screenshot(page, "console-knowledge-base")
    shot.assert_rendered()
    assert near(inside(shot, page, "#kb-job-bar", 0.5, 0.5), GOOD)

    page.click("button.nav[data-tab=docchat]")
    page.wait_for_selector("#dc-kb option", state="attached")
    page.select_option("#dc-kb", label="geology-notes")
    page.fill("#dc-question", "Volcanoes erupt when magma rises through the crust")
    page.click("#dc-ask")
    answer = page.locator("#dc-transcript .msg.assistant").last
    expect(answer).to_contain_text("Volcanoes erupt when magma rises")
    citation = answer.locator("a.cite").first
    expect(citation).to_be_visible()
    citation.click()
    source = page.locator("#dc-transcript details.source[open]")
    expect(source).to_have_count(1)
    expect(source).to_contain_text("volcanoes.txt")
    expect(source).to_contain_text("Basaltic lava is runny")
    take_screenshot(page, "console-chat-with-documents").assert_rendered()

    page.click("button.nav[data-tab=kb]")
    page.locator("#kb-list button", has_text="geology-notes").click()
    expect(page.locator("#kb-title")).to_have_text("geology-notes")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#kb-delete")
    expect(page.locator("#kb-list")).not_to_contain_text("geology-notes")
    expect(page.locator("#kb-body")).to_be_hidden()


@requires_chromium
def test_status_page_shows_models_usage_and_recent_requests(console: Any, server: RunningServer) -> None:
    from playwright.sync_api import expect

    runtime = server.client("bedrock-runtime")
    runtime.converse(
        modelId="meta.llama3-8b-instruct-v1:0",
        messages=[{"role": "user", "content": [{"text": "status check words"}]}],
    )
    page = console
    page.click("button.nav[data-tab=status]")
    recent = page.locator("#st-recent tbody")
    expect(recent).to_contain_text("Converse")
    expect(page.locator("#st-usage")).to_contain_text("meta.llama3-8b-instruct-v1:0")
    row = page.locator("#st-usage tr", has_text="meta.llama3-8b-instruct-v1:0")
    calls = row.locator("td.num").first.inner_text()
    assert int(calls) >= 1
    expect(page.locator("#st-models")).to_contain_text("qwen2.5-coder-0.5b")
    expect(page.locator("#st-models .badge.ready").first).to_be_visible()
    expect(page.locator("#st-memory")).to_contain_text(re.compile(r"\d+ MiB"))
    shot = take_screenshot(page, "console-status")
    shot.assert_rendered()
    assert near(inside(shot, page, "button.nav.active", 0.05, 0.5), (232, 163, 61))


@requires_chromium
def test_status_page_lists_models_of_every_kind_with_their_uses(console: Any, server: RunningServer) -> None:
    from playwright.sync_api import expect

    server.client("comprehend").detect_sentiment(Text="A lovely, happy day.", LanguageCode="en")
    page = console
    page.click("button.nav[data-tab=status]")
    row = page.locator("#st-models tr", has_text="vader-en")
    expect(row).to_contain_text("sentiment")
    expect(row.locator(".badge.ready")).to_be_visible()
    load_seconds, uses, _ = (cell.inner_text() for cell in row.locator("td.num").all())
    assert float(load_seconds) >= 0 and int(uses) >= 1
    for kind in ("chat", "embedding", "rerank", "speech-to-text", "ocr", "faces", "translation"):
        expect(page.locator("#st-models")).to_contain_text(kind)


@requires_chromium
def test_console_signs_requests_for_a_sigv4_server(tmp_path: Path) -> None:
    """With `auth = "sigv4"` the console's own SigV4 signatures must verify, and a wrong secret must not."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    guarded = RunningServer(
        tmp_path / "data",
        extra_env={
            "OUTCROP_AUTH": "sigv4",
            "OUTCROP_CREDENTIALS": "AKIACONSOLETEST:console-secret-1",
            "OUTCROP_API_KEYS": "sk-console",
        },
    ).start()
    try:
        with browser_page() as page:
            page.goto(guarded.endpoint + CONSOLE + "#settings")
            page.fill("#set-access-key", "AKIACONSOLETEST")
            page.fill("#set-secret-key", "wrong-secret")
            page.fill("#set-api-key", "sk-console")
            page.click("#settings-form button")
            page.click("button.nav[data-tab=kb]")
            expect(page.locator("#banner")).to_contain_text("Signature")
            page.click("button.nav[data-tab=settings]")
            page.fill("#set-secret-key", "console-secret-1")
            page.click("#settings-form button")
            page.reload()
            page.click("button.nav[data-tab=kb]")
            page.wait_for_selector("#kb-embedding option", state="attached")
            page.fill("#kb-name", "signed")
            page.click("#kb-create-button")  # S3 CreateBucket and three Bedrock calls, all signed
            expect(page.locator("#kb-title")).to_have_text("signed")
            page.click("button.nav[data-tab=playground]")
            page.wait_for_selector("#pg-model option", state="attached")
            page.fill("#pg-input", "signed hello")
            page.click("#pg-send")
            expect(page.locator(".msg.assistant").last).to_have_text("You said: signed hello")
    finally:
        guarded.stop()
