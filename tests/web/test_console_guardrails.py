"""The console's Guardrails page and the playground's guardrail in real headless Chromium (fake models):
create a guardrail with a denied word and an anonymized PII entity, pick it in the playground, and see its
assessments (which policy fired, on input, the action, the masked span) under the answers."""

from __future__ import annotations

import uuid

from tests.browser import browser_page, requires_chromium, take_screenshot
from tests.server import RunningServer

BLOCKED_IN = "Sorry, I cannot answer that question."


@requires_chromium
def test_guardrails_page_creates_one_and_the_playground_shows_its_assessments(server: RunningServer) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    name = f"console-{uuid.uuid4().hex[:6]}"
    with browser_page() as page:
        page.goto(server.endpoint + "/_outcrop/console/#guardrails")
        page.wait_for_selector("#gr-pii-EMAIL", state="attached")
        page.fill("#gr-name", name)
        page.fill("#gr-words", "zorbex")
        page.select_option("#gr-pii-EMAIL", "ANONYMIZE")
        page.select_option("#gr-filter-INSULTS-in", "HIGH")
        page.click("#gr-create-button")
        detail = page.locator("#gr-detail")
        expect(detail).to_contain_text(name)
        expect(detail).to_contain_text("Denied words: zorbex")
        expect(detail).to_contain_text("EMAIL ANONYMIZE")
        expect(detail).to_contain_text("INSULTS HIGH/NONE")
        expect(page.locator("#gr-list")).to_contain_text(name)
        page.locator("#gr-list").scroll_into_view_if_needed()
        take_screenshot(page, "console-guardrails").assert_rendered()

        made = [g for g in server.client("bedrock").list_guardrails()["guardrails"] if g["name"] == name]
        assert len(made) == 1
        stored = server.client("bedrock").get_guardrail(guardrailIdentifier=made[0]["id"])
        assert stored["wordPolicy"]["words"][0]["text"] == "zorbex"
        entity = stored["sensitiveInformationPolicy"]["piiEntities"][0]
        assert (entity["type"], entity["action"]) == ("EMAIL", "ANONYMIZE")

        page.click("button.nav[data-tab=playground]")
        page.wait_for_selector(f"#pg-guardrail option[value='{made[0]['id']}']", state="attached")
        page.wait_for_selector("#pg-model option", state="attached")
        page.select_option("#pg-guardrail", made[0]["id"])
        page.fill("#pg-input", "tell me about zorbex")
        page.click("#pg-send")
        reply = page.locator("#pg-transcript .msg.assistant").last
        expect(reply).to_have_text(BLOCKED_IN)
        report = page.locator("#pg-transcript .assessments").last
        expect(report).to_contain_text("Guardrail intervened")
        expect(report).to_contain_text('Input · Denied word "zorbex": BLOCKED')
        expect(page.locator("#pg-stats")).to_contain_text("stop: guardrail_intervened")

        page.click("#pg-clear")  # a new conversation: the blocked turn is not read again
        page.fill("#pg-input", "write to ada@example.com today")
        page.click("#pg-send")
        reply = page.locator("#pg-transcript .msg.assistant").last
        expect(reply).to_have_text("You said: write to {EMAIL} today")  # the model read the mask
        report = page.locator("#pg-transcript .assessments").last
        expect(report).to_contain_text('Input · PII EMAIL "ada@example.com": ANONYMIZED')

        page.click("#pg-clear")
        page.fill("#pg-input", "hello there")
        page.click("#pg-send")
        expect(page.locator("#pg-transcript .msg.assistant").last).to_have_text("You said: hello there")
        expect(page.locator("#pg-transcript .assessments").last).to_contain_text("no intervention")
        take_screenshot(page, "console-playground-guardrail").assert_rendered()

        page.select_option("#pg-guardrail", "")  # without a guardrail the chat goes through /v1 as before
        page.fill("#pg-input", "zorbex unguarded")
        page.click("#pg-send")
        expect(page.locator("#pg-transcript .msg.assistant").last).to_contain_text("zorbex unguarded")
        assert page.outcrop_errors == [], (page.outcrop_errors, page.outcrop_failed_responses)
