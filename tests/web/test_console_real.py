"""The console's playground on a real local model: the answer must arrive in pieces, as it is decoded."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, requires_chromium, take_screenshot
from tests.server import RunningServer

pytestmark = pytest.mark.real

# Records every text the assistant bubble shows while the answer streams in.
_WATCH = """
() => {
  window.outcropSeen = [];
  const transcript = document.querySelector("#pg-transcript");
  new MutationObserver(() => {
    const last = transcript.querySelector(".msg.assistant:last-child");
    if (last) window.outcropSeen.push(last.textContent);
  }).observe(transcript, { childList: true, subtree: true, characterData: true });
}
"""


@requires_chromium
def test_playground_streams_a_real_answer(real_server: RunningServer) -> None:
    from playwright.sync_api import expect

    with browser_page() as page:
        page.goto(real_server.endpoint + "/_outcrop/console/")
        page.wait_for_selector("#pg-model option", state="attached")
        page.select_option("#pg-model", "qwen2.5-coder-0.5b")
        page.fill("#pg-temperature", "0")
        page.fill("#pg-max-tokens", "40")
        page.evaluate(_WATCH)
        page.fill("#pg-input", "Name three planets of the solar system.")
        page.click("#pg-send")
        expect(page.locator("#pg-stats")).to_contain_text("tokens/s", timeout=120_000)
        answer = page.locator(".msg.assistant").last.inner_text()
        assert any(planet in answer for planet in ("Mars", "Venus", "Jupiter", "Earth", "Saturn", "Mercury"))
        seen = [text for text in page.evaluate("window.outcropSeen") if text]
        growing = sorted(set(seen), key=len)
        assert len(growing) >= 5, "the answer did not arrive in pieces"
        assert all(answer.startswith(text.rstrip()) for text in growing[:-1] if text.strip())
        take_screenshot(page, "console-playground-real").assert_rendered()
        assert page.outcrop_errors == []
