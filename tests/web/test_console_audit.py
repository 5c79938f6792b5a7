"""The console under `auth = "iam"` in real headless Chromium: it asks for a key before any call, keeps it in
the tab's session only, shows who signed in, shows a denied call's AccessDenied sentence instead of a broken
page, and its Audit page lists CloudTrail events (LookupEvents) filtered by attribute."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import browser_page, requires_chromium, take_screenshot
from tests.iam.fixtures import allow, iam_server, policy
from tests.server import RunningServer

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def iam_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict[str, Any]]]:
    with iam_server(tmp_path_factory.mktemp("console-iam") / "data") as running:
        iam = running.client("iam")
        keys = {}
        for name in ("auditor", "nobody"):
            iam.create_user(UserName=name)
            keys[name] = iam.create_access_key(UserName=name)["AccessKey"]
        iam.put_user_policy(
            UserName="auditor", PolicyName="audit", PolicyDocument=policy(allow("cloudtrail:LookupEvents"))
        )
        running.client("s3").create_bucket(Bucket="audited-bucket")
        yield running, keys


def sign_in(page: Any, key: dict[str, Any]) -> None:
    page.fill("#sign-in-access-key", key["AccessKeyId"])
    page.fill("#sign-in-secret-key", key["SecretAccessKey"])
    page.click("#sign-in-button")


@requires_chromium
def test_sign_in_audit_page_and_denied_calls(iam_console: tuple[RunningServer, dict[str, Any]]) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    server, keys = iam_console
    with browser_page() as page:
        page.goto(server.endpoint + "/_outcrop/console/#audit")
        expect(page.locator("#sign-in")).to_be_visible()
        wrong = {**keys["auditor"], "SecretAccessKey": "not-the-secret"}
        sign_in(page, wrong)
        expect(page.locator("#sign-in-error")).to_contain_text(
            "The request signature we calculated does not match"
        )
        expect(page.locator("#sign-in")).to_be_visible()

        sign_in(page, keys["auditor"])
        expect(page.locator("#sign-in")).to_be_hidden()
        expect(page.locator("#whoami-arn")).to_have_text(f"Signed in as arn:aws:iam::{ACCOUNT}:user/auditor")
        stored = page.evaluate("() => [sessionStorage.length, JSON.stringify(localStorage)]")
        assert stored[0] == 1 and keys["auditor"]["SecretAccessKey"] not in stored[1]

        events = page.locator("#au-events tbody")
        expect(events).to_contain_text("CreateBucket")
        expect(events).to_contain_text("s3.amazonaws.com")
        page.select_option("#au-key", "EventName")
        page.fill("#au-value", "CreateAccessKey")
        page.click("#au-search")
        expect(page.locator("#au-message")).to_have_text("2 events.")
        assert set(events.locator("td:nth-child(2)").all_inner_texts()) == {"CreateAccessKey"}
        events.locator("tr").first.click()
        expect(page.locator("#au-detail")).to_contain_text('"eventSource": "iam.amazonaws.com"')
        take_screenshot(page, "console-audit").assert_rendered()

        # a page the auditor may not read says so, in AWS's words, and the page still works
        page.click("button.nav[data-tab=guardrails]")
        expect(page.locator("#banner")).to_contain_text(
            f"AccessDeniedException: User: arn:aws:iam::{ACCOUNT}:user/auditor is not authorized to perform: "
            "bedrock:ListGuardrails"
        )
        expect(page.locator("#gr-create")).to_be_visible()

        page.reload()  # the session keeps the key across reloads of the tab
        expect(page.locator("#whoami-arn")).to_contain_text("user/auditor")
        page.click("#sign-out")
        expect(page.locator("#sign-in")).to_be_visible()
        sign_in(page, keys["nobody"])
        expect(page.locator("#whoami-arn")).to_contain_text("user/nobody")
        page.click("button.nav[data-tab=audit]")
        expect(page.locator("#au-message")).to_have_text(
            f"AccessDeniedException: User: arn:aws:iam::{ACCOUNT}:user/nobody is not authorized to perform: "
            "cloudtrail:LookupEvents on resource: * because no identity-based policy allows the "
            "cloudtrail:LookupEvents action"
        )
        assert [e for e in page.outcrop_errors if "status of 4" not in e] == [], page.outcrop_errors
