"""The needs-attention queue: what ended needs_attention or not_found, oldest first, handled."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SHOP
from tests.functional.conftest import Sandbox
from tests.functional.console.conftest import EMAIL, cancel, csrf_of, post_form, seed
from tests.support.worker import drain


def action_id(app: Flask, order_id: int) -> str:
    import json

    output = app.test_cli_runner().invoke(args=["order", SHOP, str(order_id), "--json"]).output
    found: str = json.loads(output)["actions"][0]["id"]
    return found


def queue_of(app: Flask, support: FlaskClient, gelato: Sandbox) -> None:
    """8001: not found at Gelato; 8002: Gelato rejects the search (needs attention); 8003: fine."""
    cancel(support, 8001)
    drain(app)
    gelato.post("/_sandbox/faults", {"endpoint": "search", "status": 400})
    cancel(support, 8002)
    drain(app)
    seed(gelato, 8003, "passed")
    cancel(support, 8003)
    drain(app)


def test_queue_lists_needs_attention_and_not_found_oldest_first_with_reasons(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    queue_of(app, support, gelato)

    page = support.get("/support/attention").get_data(as_text=True)

    assert "2 actions ended" in page
    assert page.index("/8001#") < page.index("/8002#")
    assert "/8003#" not in page
    assert "gelato.not_found" in page
    assert "gelato.rejected" in page
    assert "Needs attention: Gelato answered 400" in page


def test_marking_an_action_handled_with_a_note_takes_it_off_the_queue(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    queue_of(app, support, gelato)
    first = action_id(app, 8001)

    response = post_form(
        support,
        f"/support/actions/{first}/handled",
        "/support/attention",
        note="Order was placed by hand at Gelato; nothing to cancel.",
    )

    assert response.status_code == 302
    page = support.get("/support/attention").get_data(as_text=True)
    assert "1 action ended" in page
    assert f"queue-{first}" not in page
    assert "Handled recently" in page
    assert "placed by hand at Gelato" in page
    assert EMAIL in page
    timeline = support.get(f"/support/orders/{SHOP}/8001").get_data(as_text=True)
    assert f"Handled by {EMAIL}" in timeline


def test_a_note_is_required_and_only_queue_actions_can_be_handled(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    queue_of(app, support, gelato)
    first, fine = action_id(app, 8001), action_id(app, 8003)

    post_form(support, f"/support/actions/{first}/handled", "/support/attention", note="  ")
    post_form(support, f"/support/actions/{fine}/handled", "/support/attention", note="x")

    page = support.get("/support/attention").get_data(as_text=True)
    assert "2 actions ended" in page
    assert "Say in a note how it was handled." in page or "Only actions that need" in page


def test_handling_without_the_csrf_token_changes_nothing(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    queue_of(app, support, gelato)
    first = action_id(app, 8001)

    forged = support.post(f"/support/actions/{first}/handled", data={"note": "forged"})
    wrong = support.post(
        f"/support/actions/{first}/handled", data={"note": "forged", "csrf_token": "guess"}
    )

    assert forged.status_code == wrong.status_code == 400
    assert "2 actions ended" in support.get("/support/attention").get_data(as_text=True)
    assert csrf_of(support.get("/support/attention"))
