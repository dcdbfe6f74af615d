"""An installed shop's webhooks are handled with its own credentials, kept fresh."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from bridge.app import services_of
from tests.functional.conftest import Sandbox
from tests.functional.shops.conftest import sandbox_requests
from tests.support.install import MERCHANT_GELATO_KEY, MERCHANT_SHOP, form, install
from tests.support.webhooks import delivery_headers, encode, order_payload
from tests.support.worker import drain

ORDER = 7770001


def cancel(client: FlaskClient, shop: str = MERCHANT_SHOP, order_id: int = ORDER) -> int:
    body = encode(order_payload(order_id))
    answer = client.post("/webhooks/shopify", data=body, headers=delivery_headers(body, shop=shop))
    return answer.status_code


def installed_with_key(app: Flask, browser: FlaskClient) -> None:
    page = browser.get(install(browser).headers["Location"])
    saved = browser.post(
        f"/shops/{MERCHANT_SHOP}/gelato-key", data=form(page, gelato_api_key=MERCHANT_GELATO_KEY)
    )
    assert saved.status_code == 303
    drain(app)  # the webhook subscriptions made at install


def seed(gelato: Sandbox, status: str = "passed") -> str:
    answer = gelato.post("/_sandbox/orders", {"orderReferenceId": str(ORDER), "status": status})
    order_id: str = answer["orders"][0]["id"]
    return order_id


def store_calls(store: Sandbox, operation: str) -> list[dict[str, Any]]:
    return [
        call
        for call in store.get("/_sandbox/calls")
        if call["shop"] == MERCHANT_SHOP and call["operation"] == operation
    ]


def outcome(app: Flask) -> Any:
    document = services_of(app).synclog.order(MERCHANT_SHOP, str(ORDER))
    assert document is not None
    (action,) = document["actions"]
    return action


def test_cancellation_from_an_installed_shop_uses_its_gelato_key_and_store_token(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox, store: Sandbox, oauth: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    seed(gelato)

    assert cancel(shop_app.test_client()) == 200
    drain(shop_app)

    action = outcome(shop_app)
    assert action["outcome"] == "cancelled"
    assert action["report"]["state"] == "done"
    searches = [r for r in sandbox_requests(gelato) if r["endpoint"] in ("search", "cancel")]
    assert searches
    assert {r["api_key"] for r in searches} == {MERCHANT_GELATO_KEY}
    # The store sandbox accepts only the token the OAuth stand-in issued to this shop.
    assert [call["status"] for call in store_calls(store, "tagsAdd")] == [200]
    tags = store.get(f"/_sandbox/orders/{MERCHANT_SHOP}/{ORDER}")["tags"]
    assert tags == ["gelato:cancelled"]


def test_token_about_to_expire_is_refreshed_before_the_store_call(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox, store: Sandbox, oauth: Sandbox
) -> None:
    # Tokens that live 60 seconds are always within the refresh margin.
    oauth.post("/_sandbox/lifetimes", {"expires_in": 60})
    installed_with_key(shop_app, browser)
    generation = services_of(shop_app).shop_records.find(MERCHANT_SHOP).token_generation
    seed(gelato)

    cancel(shop_app.test_client())
    drain(shop_app)

    grants = [r["grant_type"] for r in sandbox_requests(oauth) if r["endpoint"] == "access_token"]
    assert grants[0] == "authorization_code"
    assert "refresh_token" in grants[1:]
    assert all(call["status"] == 200 for call in store_calls(store, "tagsAdd"))
    assert outcome(shop_app)["report"]["state"] == "done"
    tokens = oauth.get(f"/_sandbox/tokens/{MERCHANT_SHOP}")
    loaded = services_of(shop_app).shops.load(MERCHANT_SHOP)
    assert loaded is not None
    assert loaded.access_token == tokens["access_token"]
    assert (
        services_of(shop_app).shop_records.refresh_token(MERCHANT_SHOP) == (tokens["refresh_token"])
    )
    assert loaded.token_generation > generation


def test_store_answering_401_gets_one_refresh_and_one_retry(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox, store: Sandbox, oauth: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    seed(gelato)
    # The store stops accepting the token printbridge holds (revoked, or expired early).
    store.post("/_sandbox/shops", {"shop": MERCHANT_SHOP, "token": "a-token-nobody-has"})

    cancel(shop_app.test_client())
    drain(shop_app)

    assert [call["status"] for call in store_calls(store, "tagsAdd")] == [401, 200]
    refreshes = [r for r in sandbox_requests(oauth) if r.get("grant_type") == "refresh_token"]
    assert [r["status"] for r in refreshes] == [200]
    action = outcome(shop_app)
    assert action["report"]["state"] == "done"
    assert [c["status"] for c in action["api_calls"] if c["service"] == "store"] == [401, 200, 200]


def test_refused_refresh_leaves_the_report_failed_with_the_reason(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox, store: Sandbox, oauth: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    seed(gelato)
    store.post("/_sandbox/shops", {"shop": MERCHANT_SHOP, "token": "a-token-nobody-has"})
    oauth.post("/_sandbox/faults", {"status": 400, "error": "invalid_grant"})

    cancel(shop_app.test_client())
    drain(shop_app)

    action = outcome(shop_app)
    assert action["outcome"] == "cancelled"
    assert action["report"]["state"] == "failed"
    assert action["report"]["reason"] == "oauth.refused"


def test_installed_shop_without_a_gelato_key_needs_attention(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox
) -> None:
    install(browser)
    seed(gelato)

    cancel(shop_app.test_client())
    drain(shop_app)

    action = outcome(shop_app)
    assert (action["outcome"], action["reason"]) == ("needs_attention", "gelato.no_key")
    assert [r for r in sandbox_requests(gelato) if r["endpoint"] == "cancel"] == []


def test_the_environment_shop_keeps_working_next_to_installed_shops(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox, store: Sandbox
) -> None:
    from tests.conftest import GELATO_KEY, SHOP

    installed_with_key(shop_app, browser)
    seed(gelato)

    assert cancel(shop_app.test_client(), shop=SHOP) == 200
    drain(shop_app)

    document = services_of(shop_app).synclog.order(SHOP, str(ORDER))
    assert document is not None
    assert document["actions"][0]["outcome"] == "cancelled"
    cancels = [r for r in sandbox_requests(gelato) if r["endpoint"] == "cancel"]
    assert {r["api_key"] for r in cancels} == {GELATO_KEY}
