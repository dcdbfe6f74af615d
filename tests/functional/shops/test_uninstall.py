"""Uninstalling: tokens and key deleted, waiting work ended, later webhooks acknowledged only."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from bridge.app import services_of
from tests.functional.conftest import Sandbox
from tests.functional.shops.conftest import sandbox_requests, traces_of
from tests.functional.shops.test_installed_shop import ORDER, cancel, installed_with_key, seed
from tests.support.install import MERCHANT_GELATO_KEY, MERCHANT_SHOP, install
from tests.support.webhooks import delivery_headers
from tests.support.worker import drain

SHOP_RESOURCE = {
    "id": 548380009,
    "name": "Merchant One",
    "email": "owner@merchant-one.example",
    "domain": "shop.merchant-one.example",
    "myshopify_domain": MERCHANT_SHOP,
    "phone": "+1 555 010 2000",
}


def uninstalled(
    client: FlaskClient,
    body: dict[str, Any] | None = None,
    triggered_at: str | None = None,
    **headers: Any,
) -> int:
    raw = json.dumps(body or SHOP_RESOURCE).encode()
    sent = delivery_headers(raw, topic="app/uninstalled", shop=MERCHANT_SHOP, **headers)
    sent["X-Shopify-Triggered-At"] = triggered_at or datetime.now(UTC).isoformat()
    return client.post("/webhooks/shopify", data=raw, headers=sent).status_code


def deliveries(app: Flask, topic: str) -> list[dict[str, Any]]:
    with services_of(app).storage.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT topic, order_id, result, reason, payload FROM deliveries WHERE topic = ?",
            (topic,),
        ).mappings()
        return [dict(row) for row in rows]


def test_uninstall_deletes_the_tokens_and_key_and_marks_the_shop(
    shop_app: Flask, browser: FlaskClient, oauth: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    tokens = oauth.get(f"/_sandbox/tokens/{MERCHANT_SHOP}")

    assert uninstalled(shop_app.test_client()) == 200

    record = services_of(shop_app).shop_records.find(MERCHANT_SHOP)
    assert not record.installed
    assert not record.has_access_token
    assert not record.has_refresh_token
    assert not record.has_gelato_key
    with services_of(shop_app).storage.engine.connect() as connection:
        (row,) = connection.exec_driver_sql("SELECT * FROM shops").mappings()
    secrets = [row["access_token_encrypted"], row["refresh_token_encrypted"]]
    assert secrets == [None, None]
    assert row["gelato_api_key_encrypted"] is None
    assert traces_of(shop_app, tokens["access_token"], MERCHANT_GELATO_KEY) == []
    (delivery,) = deliveries(shop_app, "app/uninstalled")
    assert (delivery["order_id"], delivery["result"]) == (None, "uninstalled")
    # The merchant's own contact details in the Shop resource are not kept.
    assert json.loads(delivery["payload"]) == {"id": 548380009}


def test_webhooks_after_uninstall_are_acknowledged_and_ignored(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    seed(gelato)
    uninstalled(shop_app.test_client())

    assert cancel(shop_app.test_client()) == 200
    drain(shop_app)

    (delivery,) = deliveries(shop_app, "orders/cancelled")
    assert (delivery["result"], delivery["reason"]) == ("ignored", "shop.uninstalled")
    assert [r for r in sandbox_requests(gelato) if r["endpoint"] == "cancel"] == []


def test_waiting_actions_end_needing_attention_without_a_gelato_call(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    seed(gelato)
    cancel(shop_app.test_client())  # recorded and queued, not run yet

    uninstalled(shop_app.test_client())
    drain(shop_app)

    document = services_of(shop_app).synclog.order(MERCHANT_SHOP, str(ORDER))
    (action,) = document["actions"]
    assert (action["outcome"], action["reason"]) == ("needs_attention", "shop.uninstalled")
    assert "uninstalled" in action["message"]
    assert action["attempt_count"] == 0
    assert action["report"]["state"] == "none"
    order_calls = [r for r in sandbox_requests(gelato) if str(ORDER) in json.dumps(r["body"])]
    assert order_calls == []


def test_a_retried_uninstall_is_a_duplicate_and_changes_nothing_more(
    shop_app: Flask, browser: FlaskClient
) -> None:
    installed_with_key(shop_app, browser)
    webhook_id = str(uuid.uuid4())

    assert uninstalled(shop_app.test_client(), webhook_id=webhook_id) == 200
    assert uninstalled(shop_app.test_client(), webhook_id=webhook_id) == 200

    assert len(deliveries(shop_app, "app/uninstalled")) == 1


def test_an_uninstall_from_before_a_reinstall_leaves_the_new_installation_alone(
    shop_app: Flask, browser: FlaskClient
) -> None:
    installed_with_key(shop_app, browser)

    # Triggered an hour ago, delivered late (retries), after the install just made.
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert uninstalled(shop_app.test_client(), triggered_at=earlier) == 200

    record = services_of(shop_app).shop_records.find(MERCHANT_SHOP)
    assert record.installed
    assert record.has_access_token
    (delivery,) = deliveries(shop_app, "app/uninstalled")
    assert (delivery["result"], delivery["reason"]) == ("ignored", "shop.reinstalled_since")


def test_uninstall_with_a_bad_signature_is_401_and_changes_nothing(
    shop_app: Flask, browser: FlaskClient
) -> None:
    install(browser)

    assert uninstalled(shop_app.test_client(), secret="not-the-app-secret") == 401
    assert services_of(shop_app).shop_records.find(MERCHANT_SHOP).installed


def test_uninstall_naming_another_shop_in_its_body_is_refused(
    shop_app: Flask, browser: FlaskClient
) -> None:
    install(browser)
    body = {**SHOP_RESOURCE, "myshopify_domain": "someone-else.myshopify.com"}

    assert uninstalled(shop_app.test_client(), body=body) == 400
    assert services_of(shop_app).shop_records.find(MERCHANT_SHOP).installed
