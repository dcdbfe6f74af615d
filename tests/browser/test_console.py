"""The support console in headless Chromium: sign in, search, timeline, re-evaluate, export."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask

from tests.browser.conftest import ARTIFACTS
from tests.conftest import SHOP
from tests.functional.conftest import Sandbox
from tests.support.webhooks import delivery_headers, encode, order_payload
from tests.support.worker import drain

pytestmark = pytest.mark.browser

EMAIL = "ann@support.example"
PASSWORD = "correct horse battery staple"
SPLIT = 7001042  # "#1042"
LATE = 7002001  # "#2001"


def cancel(app: Flask, order_id: int) -> None:
    body = encode(order_payload(order_id))
    headers = delivery_headers(body, webhook_id=str(uuid.uuid4()))
    assert (
        app.test_client().post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    )


@pytest.fixture
def console(app: Flask, gelato: Sandbox, live_url: str) -> str:
    """A support user (made with the CLI) and two orders with a story; the console's URL."""
    result = app.test_cli_runner().invoke(
        args=["support-user", "create", EMAIL, "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    gelato.post(
        "/_sandbox/orders",
        {"orderReferenceId": str(SPLIT), "parts": 2, "statuses": ["passed", "printed"]},
    )
    cancel(app, SPLIT)
    cancel(app, LATE)  # not at Gelato yet: ends not_found
    drain(app)
    return live_url


def sign_in(page: Any, url: str, shoot: Any) -> None:
    page.goto(url + "/support/")
    assert "/support/sign-in" in page.url
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    shoot("sign-in")
    page.get_by_label("Password").press("Enter")  # the keyboard, not a mouse click
    page.get_by_role("heading", name="Overview").wait_for()


def test_support_user_signs_in_searches_an_order_and_reads_its_timeline(
    page: Any, console: str, shoot: Any
) -> None:
    sign_in(page, console, shoot)
    shoot("overview")
    page.get_by_role("link", name="Orders and actions").click()

    page.get_by_label("Order name, store order id").fill("#1042")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("1 action, newest first.").wait_for()
    shoot("search")
    page.get_by_role("link", name="#1042").first.click()

    page.get_by_role("heading", name="#1042").wait_for()
    summary = page.locator("#summary").inner_text()
    assert summary.startswith("Partly cancelled: Gelato order")
    assert "was already printed" in summary
    page.locator("details.call-gelato").first.locator("summary").click()
    assert "orderReferenceIds" in page.locator("details.call-gelato pre").first.inner_text()
    shoot("timeline")


def test_reevaluate_preview_then_confirmed_run(
    page: Any, console: str, gelato: Sandbox, shoot: Any
) -> None:
    answer = gelato.post("/_sandbox/orders", {"orderReferenceId": str(LATE), "status": "passed"})
    gelato_id = answer["orders"][0]["id"]
    sign_in(page, console, shoot)
    page.goto(f"{console}/support/orders/{SHOP}/{LATE}")

    page.get_by_role("link", name="Re-evaluate this cancellation").click()
    preview = page.locator(".preview-lines").inner_text()
    assert f"would cancel Gelato order ({gelato_id}), now `passed`" in preview
    shoot("preview")
    page.get_by_role("button", name="Confirm and run").click()

    page.get_by_text("Re-evaluation started as action").wait_for()
    assert "Re-evaluation of" in page.content()
    shoot("started")


def test_ticket_for_gelato_support_downloads_from_the_timeline(
    page: Any, console: str, shoot: Any
) -> None:
    sign_in(page, console, shoot)
    page.goto(f"{console}/support/orders/{SHOP}/{SPLIT}")

    with page.expect_download() as waiting:
        page.get_by_role("link", name="ticket as text").click()
    download = waiting.value
    saved = ARTIFACTS / download.suggested_filename
    download.save_as(str(saved))
    with page.expect_download() as waiting_json:
        page.get_by_role("link", name="ticket as JSON").click()

    assert download.suggested_filename == "gelato-ticket-1042.txt"
    text = saved.read_text()
    assert "Order number: #1042" in text
    assert "Description of the error:" in text
    assert "Request:" in text
    assert "Response:" in text
    assert waiting_json.value.suggested_filename == "gelato-ticket-1042.json"
    shoot("timeline-with-export")


def test_keyboard_reaches_the_skip_link_and_the_main_navigation(
    page: Any, console: str, shoot: Any
) -> None:
    sign_in(page, console, shoot)

    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")

    assert focused == "Skip to content"
    assert page.url.endswith("#main")
    shoot("skip-link")
