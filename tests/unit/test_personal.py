"""Erasing a customer's personal data from stored documents: fields and values go, ids stay."""

from __future__ import annotations

import json
from typing import Any

from bridge.domain.personal import REDACTED, personal_values, scrub_document, scrub_text

ORDER: dict[str, Any] = {
    "id": 450789469,
    "admin_graphql_api_id": "gid://shopify/Order/450789469",
    "name": "#1001",
    "email": "zeb@example.org",
    "phone": "+1 555 0199 777",
    "note": "Gift for Zebulon",
    "cancelled_at": "2026-11-20T11:31:25-05:00",
    "financial_status": "paid",
    "customer": {
        "id": 207119551,
        "email": "zeb@example.org",
        "first_name": "Zebulon",
        "last_name": "Quixotefield",
        "default_address": {"id": 1, "address1": "77 Marmalade Crescent", "zip": 40202},
    },
    "shipping_address": {
        "first_name": "Zebulon",
        "address1": "77 Marmalade Crescent",
        "city": "Louisville",
        "country_code": "US",
        "latitude": 38.25,
    },
    "line_items": [{"id": 1, "title": "Poster", "properties": [{"value": "For Zebulon"}]}],
}
GELATO: dict[str, Any] = {
    "id": "gelato-1",
    "orderReferenceId": "450789469",
    "fulfillmentStatus": "passed",
    "shippingAddress": {"id": "addr-1", "orderId": "gelato-1", "firstName": "Zebulon"},
    "billingEntity": {"companyName": "Quixote Ltd"},
    "firstName": "Zebulon",
    "lastName": "Quixotefield",
}


def test_every_personal_value_is_found_with_phones_also_as_digits() -> None:
    found = personal_values(ORDER)

    assert {
        "zeb@example.org",
        "+1 555 0199 777",
        "15550199777",
        "Zebulon",
        "Quixotefield",
        "77 Marmalade Crescent",
        "Louisville",
        "40202",
        "Gift for Zebulon",
    } <= found
    assert "US" not in found  # too short to erase elsewhere without harm
    assert "#1001" not in found


def test_scrubbed_order_keeps_ids_statuses_and_times_and_nothing_personal() -> None:
    scrubbed = scrub_document(ORDER, personal_values(ORDER))
    text = json.dumps(scrubbed)

    for value in ("Zebulon", "Quixotefield", "Marmalade", "zeb@example.org", "555", "Louisville"):
        assert value not in text
    assert scrubbed["id"] == 450789469
    assert scrubbed["admin_graphql_api_id"] == "gid://shopify/Order/450789469"
    assert scrubbed["name"] == "#1001"
    assert scrubbed["cancelled_at"] == "2026-11-20T11:31:25-05:00"
    assert scrubbed["financial_status"] == "paid"
    assert scrubbed["customer"]["id"] == 207119551
    assert scrubbed["customer"]["default_address"]["id"] == 1
    assert scrubbed["shipping_address"]["latitude"] == REDACTED
    assert scrubbed["line_items"][0]["properties"][0]["value"] == f"For {REDACTED}"


def test_gelato_documents_lose_names_and_addresses_but_keep_their_ids() -> None:
    scrubbed = scrub_document(GELATO, personal_values(GELATO))

    assert scrubbed["shippingAddress"] == {
        "id": "addr-1",
        "orderId": "gelato-1",
        "firstName": REDACTED,
    }
    assert scrubbed["billingEntity"] == {"companyName": REDACTED}
    assert scrubbed["firstName"] == scrubbed["lastName"] == REDACTED
    assert scrubbed["fulfillmentStatus"] == "passed"


def test_values_are_erased_from_free_text_whatever_their_case() -> None:
    message = "Gelato refused 77 MARMALADE CRESCENT for zeb@example.org"

    assert scrub_text(message, {"77 Marmalade Crescent", "zeb@example.org"}) == (
        f"Gelato refused {REDACTED} for {REDACTED}"
    )


def test_nothing_known_leaves_text_as_it_is() -> None:
    assert scrub_text("no personal data", set()) == "no personal data"
