"""Privacy webhooks: a customer's data exported and erased, a shop erased, each one logged."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.app import services_of
from tests.conftest import SHOP
from tests.functional.conftest import Sandbox
from tests.functional.shops.conftest import traces_of
from tests.functional.shops.test_installed_shop import installed_with_key
from tests.support.install import MERCHANT_SHOP
from tests.support.webhooks import delivery_headers, order_payload
from tests.support.worker import drain

ORDER = 6660001
OTHER_ORDER = 6660002
FIRST, LAST = "Zebulon", "Quixotefield"
EMAIL = "zebulon.quixotefield@redact.example"
PHONE = "+1 555 0199 777"
STREET = "77 Marmalade Crescent"
NEW_STREET = "12 Tangerine Parade"
PERSONAL = (FIRST, LAST, EMAIL, PHONE, STREET, NEW_STREET)


def address(street: str, city: str = "Louisville") -> dict[str, Any]:
    return {
        "first_name": FIRST,
        "last_name": LAST,
        "name": f"{FIRST} {LAST}",
        "address1": street,
        "address2": "",
        "city": city,
        "zip": "40202",
        "province_code": "KY",
        "country_code": "US",
        "phone": PHONE,
        "company": None,
    }


def order_body(order_id: int, street: str, updated_at: str, **changes: Any) -> dict[str, Any]:
    return order_payload(
        order_id,
        email=EMAIL,
        phone=PHONE,
        note=f"Gift for {FIRST}",
        updated_at=updated_at,
        customer={
            "id": 191167,
            "email": EMAIL,
            "first_name": FIRST,
            "last_name": LAST,
            "phone": PHONE,
            "default_address": address(STREET),
        },
        shipping_address=address(street),
        billing_address=address(STREET),
        **changes,
    )


def send(
    app: Flask, topic: str, body: dict[str, Any], shop: str = MERCHANT_SHOP, **headers: Any
) -> int:
    raw = json.dumps(body).encode()
    sent = delivery_headers(raw, topic=topic, shop=shop, **headers)
    return app.test_client().post("/webhooks/shopify", data=raw, headers=sent).status_code


def seed_customer_story(app: Flask, gelato: Sandbox, shop: str = MERCHANT_SHOP) -> None:
    """Through the app: an order placed, its address changed (re-issued), then cancelled."""
    gelato.post(
        "/_sandbox/orders",
        {
            "orderReferenceId": str(ORDER),
            "status": "passed",
            "shippingAddress": {
                "firstName": FIRST,
                "lastName": LAST,
                "addressLine1": STREET,
                "city": "Louisville",
                "postCode": "40202",
                "state": "KY",
                "country": "US",
                "email": EMAIL,
                "phone": PHONE,
            },
        },
    )
    still_open = {"cancelled_at": None, "cancel_reason": None}
    placed = order_body(ORDER, STREET, "2026-11-20T10:00:00-05:00", **still_open)
    moved = order_body(ORDER, NEW_STREET, "2026-11-20T10:05:00-05:00", **still_open)
    cancelled = order_body(
        ORDER, NEW_STREET, "2026-11-20T11:00:00-05:00", cancelled_at="2026-11-20T11:00:00-05:00"
    )
    assert send(app, "orders/create", placed, shop) == 200
    assert send(app, "orders/updated", moved, shop) == 200
    drain(app)
    assert send(app, "orders/cancelled", cancelled, shop) == 200
    drain(app)
    document = services_of(app).synclog.order(shop, str(ORDER))
    assert document is not None
    assert [a["outcome"] for a in document["actions"]] == ["address_updated", "cancelled"]


def customer_request(topic: str, **fields: Any) -> dict[str, Any]:
    return {
        "shop_id": 954889,
        "shop_domain": MERCHANT_SHOP,
        "customer": {"id": 191167, "email": EMAIL, "phone": PHONE},
        **fields,
    }


def test_after_customers_redact_no_trace_of_the_customer_remains_anywhere(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    seed_customer_story(shop_app, gelato)
    send(shop_app, "orders/create", order_payload(OTHER_ORDER, email="someone.else@keep.example"))
    before = {needle: len(traces_of(shop_app, needle)) for needle in PERSONAL}
    assert all(before.values()), before  # the story really stored all of it

    body = customer_request("customers/redact", orders_to_redact=[ORDER])
    assert send(shop_app, "customers/redact", body) == 200
    drain(shop_app)

    for needle in PERSONAL:
        assert traces_of(shop_app, needle) == [], needle
    assert traces_of(shop_app, "someone.else@keep.example")  # other customers are untouched
    document = services_of(shop_app).synclog.order(MERCHANT_SHOP, str(ORDER))
    assert document is not None
    assert [a["outcome"] for a in document["actions"]] == ["address_updated", "cancelled"]
    assert [d["topic"] for d in document["deliveries"]] == [
        "orders/create",
        "orders/updated",
        "orders/cancelled",
    ]
    calls = [c for a in document["actions"] for c in a["api_calls"]]
    assert calls
    assert all(c["status"] == 200 for c in calls)
    logged = shop_deliveries(shop_app, "customers/redact")
    assert [(d["result"], d["reason"]) for d in logged] == [
        ("done", "compliance.customer_redacted")
    ]


def test_customer_data_request_is_logged_and_exported_to_the_merchant(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    seed_customer_story(shop_app, gelato)
    request = customer_request(
        "customers/data_request", orders_requested=[ORDER], data_request={"id": 9999}
    )

    assert send(shop_app, "customers/data_request", request) == 200
    page = browser.get(f"/shops/{MERCHANT_SHOP}/settings").get_data(as_text=True)
    (logged,) = shop_deliveries(shop_app, "customers/data_request")
    export = browser.get(f"/shops/{MERCHANT_SHOP}/data-requests/{logged['id']}.json")

    assert "Download" in page
    assert f"/shops/{MERCHANT_SHOP}/data-requests/{logged['id']}.json" in page
    assert export.status_code == 200
    assert export.headers["Content-Disposition"].startswith("attachment")
    document = export.get_json()
    assert document["data_request_id"] == 9999
    assert document["customer_id"] == 191167
    (order,) = document["orders"]
    assert order["order_id"] == str(ORDER)
    text = json.dumps(document)
    for needle in (FIRST, LAST, EMAIL, STREET, NEW_STREET):
        assert needle in text
    # The request itself is logged with ids only.
    assert EMAIL not in logged["payload"]
    assert json.loads(logged["payload"])["orders_requested"] == [str(ORDER)]


def test_shop_redact_erases_everything_of_the_shop_and_nothing_else(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    seed_customer_story(shop_app, gelato)
    send(shop_app, "orders/create", order_payload(OTHER_ORDER), shop=SHOP)  # the env shop
    send(shop_app, "customers/data_request", customer_request("x", orders_requested=[ORDER]))
    assert traces_of(shop_app, MERCHANT_SHOP)

    body = {"shop_id": 954889, "shop_domain": MERCHANT_SHOP}
    assert send(shop_app, "shop/redact", body) == 200
    drain(shop_app)

    assert traces_of(shop_app, MERCHANT_SHOP) == []
    for needle in PERSONAL:
        assert traces_of(shop_app, needle) == [], needle
    assert services_of(shop_app).synclog.order(SHOP, str(OTHER_ORDER)) is not None
    assert services_of(shop_app).shops.load(MERCHANT_SHOP) is None
    assert browser.get(f"/shops/{MERCHANT_SHOP}/settings").status_code == 404


@pytest.mark.parametrize("topic", ["customers/data_request", "customers/redact", "shop/redact"])
def test_privacy_webhooks_with_a_bad_signature_are_401_and_change_nothing(
    shop_app: Flask, browser: FlaskClient, topic: str
) -> None:
    installed_with_key(shop_app, browser)
    body = customer_request(topic, orders_to_redact=[ORDER], orders_requested=[ORDER])

    assert send(shop_app, topic, body, secret="not-the-app-secret") == 401
    drain(shop_app)

    assert shop_deliveries(shop_app, topic) == []
    assert services_of(shop_app).shop_records.find(MERCHANT_SHOP) is not None


def test_a_repeated_redact_delivery_is_recorded_once(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    seed_customer_story(shop_app, gelato)
    body = customer_request("customers/redact", orders_to_redact=[ORDER])
    webhook_id = str(uuid.uuid4())

    send(shop_app, "customers/redact", body, webhook_id=webhook_id)
    send(shop_app, "customers/redact", body, webhook_id=webhook_id)
    drain(shop_app)

    assert len(shop_deliveries(shop_app, "customers/redact")) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"shop_domain": MERCHANT_SHOP, "orders_to_redact": "6660001"},
        {"shop_domain": MERCHANT_SHOP, "orders_to_redact": [True]},
        {"shop_domain": "someone-else.myshopify.com", "orders_to_redact": [ORDER]},
        [ORDER],
    ],
)
def test_malformed_redact_request_is_400_and_recorded_as_rejected(
    shop_app: Flask, body: Any
) -> None:
    assert send(shop_app, "customers/redact", body) == 400

    (logged,) = shop_deliveries(shop_app, "customers/redact")
    assert logged["result"] == "rejected"


def shop_deliveries(app: Flask, topic: str) -> list[dict[str, Any]]:
    with services_of(app).storage.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT id, order_id, result, reason, payload FROM deliveries WHERE topic = ?",
            (topic,),
        ).mappings()
        return [dict(row) for row in rows]
