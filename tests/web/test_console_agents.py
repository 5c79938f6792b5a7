"""The console's Agents page in real headless Chromium (fake models): create an agent, add a function action
group on a Lambda function, chat, and see the steps of the trace."""

from __future__ import annotations

import uuid

from tests.browser import browser_page, requires_chromium, take_screenshot
from tests.server import RunningServer
from tests.services.agents import FUNCTION_HANDLER, make_function


@requires_chromium
def test_agents_page_creates_an_agent_and_shows_its_steps(server: RunningServer) -> None:
    from playwright.sync_api import expect

    arn = make_function(server.client("lambda"), FUNCTION_HANDLER)
    expect.set_options(timeout=30_000)
    name = f"console-{uuid.uuid4().hex[:6]}"
    with browser_page() as page:
        page.goto(server.endpoint + "/_outcrop/console/#agents")
        page.wait_for_selector("#ag-model option", state="attached")
        page.fill("#ag-name", name)
        page.click("#ag-create-button")
        expect(page.locator("#ag-title")).to_have_text(name)
        page.fill("#ag-group-name", "weather")
        page.select_option("#ag-lambda", arn)
        page.fill("#ag-function", "get_weather")
        page.fill("#ag-function-description", "Current weather in a city.")
        page.fill("#ag-params", "city:string")
        page.click("#ag-group-button")
        expect(page.locator("#ag-groups")).to_contain_text("weather (ENABLED)")
        expect(page.locator("#ag-meta")).to_contain_text("PREPARED")
        page.fill("#ag-input", "get_weather in Paris")
        page.click("#ag-ask")
        reply = page.locator("#ag-transcript .msg.assistant").last
        expect(reply.locator(".answer")).to_contain_text("The tool get_weather returned")
        expect(reply.locator(".steps")).to_contain_text("Call weather.get_weather(city=Paris) via LAMBDA")
        expect(reply.locator(".steps")).to_contain_text("Observation FINISH")
        take_screenshot(page, "console-agents").assert_rendered()
        assert page.outcrop_errors == [], (page.outcrop_errors, page.outcrop_failed_responses)
