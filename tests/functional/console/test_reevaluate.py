"""Re-evaluate: a dry-run preview from Gelato's current state, then a confirmed new action."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SHOP
from tests.functional.conftest import Sandbox
from tests.functional.console.conftest import EMAIL, cancel, csrf_of, seed
from tests.support.webhooks import (
    GELATO_OLD_ADDRESS,
    NEW_ADDRESS,
    OLD_ADDRESS,
    delivery_headers,
    encode,
    updated_payload,
)
from tests.support.worker import drain

ORDER = 9301


def story(app: Flask, order_id: int = ORDER) -> dict[str, Any]:
    output = app.test_cli_runner().invoke(args=["order", SHOP, str(order_id), "--json"]).output
    document: dict[str, Any] = json.loads(output)
    return document


def gelato_calls(gelato: Sandbox, endpoint: str) -> list[dict[str, Any]]:
    return [call for call in gelato.get("/_sandbox/requests") if call["endpoint"] == endpoint]


def not_found_then_placed(app: Flask, support: FlaskClient, gelato: Sandbox) -> tuple[str, str]:
    """The cancel found nothing at Gelato; the order reached Gelato later, still `passed`."""
    cancel(support, ORDER)
    drain(app)
    (gelato_id,) = seed(gelato, ORDER, "passed")
    original = story(app)["actions"][0]
    assert original["outcome"] == "not_found"
    return original["id"], gelato_id


def fingerprint_of(page: str) -> str:
    found = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', page)
    assert found, "no confirm form on the preview page"
    return found.group(1)


def test_preview_reads_gelato_now_and_changes_nothing(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    original, gelato_id = not_found_then_placed(app, support, gelato)

    page = support.get(f"/support/actions/{original}/reevaluate").get_data(as_text=True)

    assert f"would cancel Gelato order ({gelato_id}), now `passed`" in page
    assert "A new run would end" in page
    assert "Cancelled" in page
    assert gelato_calls(gelato, "cancel") == []
    after = story(app)
    assert len(after["actions"]) == 1
    assert after["actions"][0]["outcome"] == "not_found"
    calls = [call for call in after["actions"][0]["api_calls"] if call["service"] == "gelato"]
    assert all(call["url"].endswith(":search") for call in calls)
    held = gelato.get(f"/_sandbox/orders?orderReferenceId={ORDER}")["orders"]
    assert held[0]["fulfillmentStatus"] == "passed"


def test_confirmed_run_is_a_new_linked_action_and_the_original_stays(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    original, gelato_id = not_found_then_placed(app, support, gelato)
    preview = support.get(f"/support/actions/{original}/reevaluate")

    response = support.post(
        f"/support/actions/{original}/reevaluate",
        data={"csrf_token": csrf_of(preview), "fingerprint": fingerprint_of(preview.text)},
    )
    drain(app)

    assert response.status_code == 302
    first, second = story(app)["actions"]
    assert first["id"] == original
    assert first["outcome"] == "not_found"
    assert second["reevaluates"] == original
    assert second["requested_by"] == EMAIL
    assert second["outcome"] == "cancelled"
    assert [call["path"] for call in gelato_calls(gelato, "cancel")] == [
        f"/v4/orders/{gelato_id}:cancel"
    ]
    timeline = support.get(f"/support/orders/{SHOP}/{ORDER}").get_data(as_text=True)
    assert f'Re-evaluation of <a href="#action-{original}">' in timeline


def test_run_is_refused_when_gelato_changed_since_the_preview(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    original, gelato_id = not_found_then_placed(app, support, gelato)
    preview = support.get(f"/support/actions/{original}/reevaluate")
    gelato.post(f"/_sandbox/orders/{gelato_id}/status", {"status": "printed"})

    response = support.post(
        f"/support/actions/{original}/reevaluate",
        data={"csrf_token": csrf_of(preview), "fingerprint": fingerprint_of(preview.text)},
    )

    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "changed since your preview" in page
    assert f"Gelato order ({gelato_id}) was already printed" in page
    assert len(story(app)["actions"]) == 1
    assert gelato_calls(gelato, "cancel") == []


def test_forged_fingerprint_or_missing_csrf_starts_nothing(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    original, _ = not_found_then_placed(app, support, gelato)
    preview = support.get(f"/support/actions/{original}/reevaluate")

    forged = support.post(
        f"/support/actions/{original}/reevaluate",
        data={"csrf_token": csrf_of(preview), "fingerprint": "0" * 64},
    )
    no_csrf = support.post(
        f"/support/actions/{original}/reevaluate",
        data={"fingerprint": fingerprint_of(preview.text)},
    )

    assert forged.status_code == 409
    assert no_csrf.status_code == 400
    assert len(story(app)["actions"]) == 1


def test_an_older_address_edit_cannot_be_rerun_over_a_newer_one(
    app: Flask, support: FlaskClient, gelato: Sandbox
) -> None:
    gelato.post(
        "/_sandbox/orders",
        {"orderReferenceId": str(ORDER), "status": "passed", "shippingAddress": GELATO_OLD_ADDRESS},
    )

    def send(address: dict[str, str], at: str, topic: str = "orders/updated") -> None:
        body = encode(updated_payload(ORDER, address, at))
        headers = delivery_headers(body, topic=topic)
        assert support.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
        drain(app)

    send(OLD_ADDRESS, "2026-11-20T10:00:00-05:00", topic="orders/create")
    send(NEW_ADDRESS, "2026-11-20T10:05:00-05:00")
    send({**NEW_ADDRESS, "city": "Newtown"}, "2026-11-20T10:10:00-05:00")
    older, newer = story(app)["actions"]

    page = support.get(f"/support/actions/{older['id']}/reevaluate").get_data(as_text=True)
    newest = support.get(f"/support/actions/{newer['id']}/reevaluate").get_data(as_text=True)

    assert "A newer address edit of this order exists" in page
    assert 'name="fingerprint"' not in page
    assert "already ships to the new address" in newest
    assert 'name="fingerprint"' in newest


def test_unknown_action_has_no_preview(support: FlaskClient) -> None:
    assert support.get("/support/actions/" + "f" * 32 + "/reevaluate").status_code == 404
