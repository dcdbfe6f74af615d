"""Installing printbridge on a shop: the OAuth flow through the web app and the store's stand-in."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.app import services_of
from tests.conftest import SECRET
from tests.functional.conftest import Sandbox
from tests.functional.shops.conftest import sandbox_requests, traces_of
from tests.support.install import (
    API_KEY,
    MERCHANT_SHOP,
    PUBLIC_URL,
    approve,
    install,
    now_stamp,
    shopify_hmac,
    signed,
    start_install,
)
from tests.support.worker import drain

HOSTILE_SHOPS = [
    "evil.com",
    "shop.myshopify.com.evil.com",
    "shop.myshopify.com/path",
    "user@shop.myshopify.com",
    "https://shop.myshopify.com",
    "shop.myshopify.com\n",
    "",
]


def stored(app: Flask, shop: str = MERCHANT_SHOP) -> Any:
    return services_of(app).shop_records.find(shop)


def test_valid_install_lands_the_merchant_on_their_settings_page(
    shop_app: Flask, browser: FlaskClient, oauth: Sandbox
) -> None:
    started = start_install(browser, MERCHANT_SHOP)
    authorize = urlsplit(started.headers["Location"])
    query = parse_qs(authorize.query, keep_blank_values=True)

    answer = browser.get(approve(started).callback)
    page = browser.get(answer.headers["Location"])

    assert authorize.path == f"/shops/{MERCHANT_SHOP}/admin/oauth/authorize"
    assert query["client_id"] == [API_KEY]
    assert query["scope"] == ["read_orders,write_orders"]
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/auth/callback"]
    assert query["grant_options[]"] == [""]
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/shops/{MERCHANT_SHOP}/settings"
    assert page.status_code == 200
    assert f"printbridge for {MERCHANT_SHOP}" in page.get_data(as_text=True)
    record = stored(shop_app)
    assert record.installed
    assert record.scopes == "read_orders,write_orders"
    assert record.access_token_expires_at is not None
    exchanges = [r for r in sandbox_requests(oauth) if r["endpoint"] == "access_token"]
    assert [(r["grant_type"], r["status"]) for r in exchanges] == [("authorization_code", 200)]


def test_tokens_are_never_in_the_database_in_plain_text(
    shop_app: Flask, browser: FlaskClient, oauth: Sandbox
) -> None:
    install(browser)
    tokens = oauth.get(f"/_sandbox/tokens/{MERCHANT_SHOP}")

    assert tokens["access_token"]
    assert tokens["refresh_token"]
    assert traces_of(shop_app, tokens["access_token"], tokens["refresh_token"]) == []
    loaded = services_of(shop_app).shops.load(MERCHANT_SHOP)
    assert loaded is not None
    assert loaded.access_token == tokens["access_token"]


def test_install_registers_the_order_webhooks_with_the_store(
    shop_app: Flask, browser: FlaskClient, store: Sandbox
) -> None:
    install(browser)
    drain(shop_app)

    created = [
        call["variables"]
        for call in store.get("/_sandbox/calls")
        if call["operation"] == "webhookSubscriptionCreate" and call["shop"] == MERCHANT_SHOP
    ]
    assert sorted(c["topic"] for c in created) == [
        "ORDERS_CANCELLED",
        "ORDERS_CREATE",
        "ORDERS_UPDATED",
    ]
    assert {c["webhookSubscription"]["uri"] for c in created} == {f"{PUBLIC_URL}/webhooks/shopify"}


def test_install_opened_from_the_store_with_a_valid_signature_proceeds(
    browser: FlaskClient,
) -> None:
    query = signed({"shop": MERCHANT_SHOP, "timestamp": now_stamp(), "host": "YWRtaW4"})

    assert start_install(browser, **query).status_code == 302


def test_install_with_parameters_in_another_order_still_verifies(browser: FlaskClient) -> None:
    query = signed({"shop": MERCHANT_SHOP, "timestamp": now_stamp(), "host": "YWRtaW4"})
    reordered = urlencode(dict(reversed(list(query.items()))))

    assert browser.get(f"/auth/install?{reordered}").status_code == 302


def test_install_with_a_forged_signature_is_refused(browser: FlaskClient) -> None:
    query = signed({"shop": MERCHANT_SHOP, "timestamp": now_stamp()}, secret="not-the-secret")

    answer = browser.get(f"/auth/install?{urlencode(query)}")

    assert answer.status_code == 400
    assert "oauth.bad_hmac" in answer.get_data(as_text=True)


def test_install_signed_over_unsorted_parameters_is_refused(browser: FlaskClient) -> None:
    params = {"timestamp": now_stamp(), "shop": MERCHANT_SHOP}
    unsorted = "&".join(f"{k}={v}" for k, v in params.items())
    digest = hmac.new(SECRET.encode(), unsorted.encode(), hashlib.sha256).hexdigest()

    answer = browser.get(f"/auth/install?{urlencode({**params, 'hmac': digest})}")

    assert answer.status_code == 400
    assert "oauth.bad_hmac" in answer.get_data(as_text=True)


@pytest.mark.parametrize("offset", [-3600, 3600])
def test_install_with_a_timestamp_outside_the_window_is_refused(
    browser: FlaskClient, offset: int
) -> None:
    query = signed({"shop": MERCHANT_SHOP, "timestamp": now_stamp(offset)})

    answer = browser.get(f"/auth/install?{urlencode(query)}")

    assert answer.status_code == 400
    assert "oauth.stale_timestamp" in answer.get_data(as_text=True)


@pytest.mark.parametrize("shop", HOSTILE_SHOPS)
def test_install_for_a_bad_or_hostile_shop_domain_is_refused(
    browser: FlaskClient, oauth: Sandbox, shop: str
) -> None:
    answer = start_install(browser, shop)

    assert answer.status_code == 400
    assert "oauth.bad_shop" in answer.get_data(as_text=True)
    assert "Location" not in answer.headers
    assert sandbox_requests(oauth) == []


@pytest.mark.parametrize("shop", HOSTILE_SHOPS)
def test_callback_for_a_hostile_shop_is_refused_even_when_signed(
    shop_app: Flask, browser: FlaskClient, oauth: Sandbox, shop: str
) -> None:
    approval = approve(start_install(browser, MERCHANT_SHOP))
    params = {k: v for k, v in approval.callback_params.items() if k != "hmac"}
    query = signed({**params, "shop": shop})

    answer = browser.get(f"/auth/callback?{urlencode(query)}")

    assert answer.status_code == 400
    assert [r for r in sandbox_requests(oauth) if r["endpoint"] == "access_token"] == []


def test_callback_with_a_forged_signature_is_refused_and_nothing_is_stored(
    shop_app: Flask, browser: FlaskClient, oauth: Sandbox
) -> None:
    approval = approve(start_install(browser, MERCHANT_SHOP))
    forged = {**approval.callback_params, "hmac": shopify_hmac({"a": "b"})}

    answer = browser.get(f"/auth/callback?{urlencode(forged)}")

    assert answer.status_code == 400
    assert "oauth.bad_hmac" in answer.get_data(as_text=True)
    assert stored(shop_app) is None
    assert [r for r in sandbox_requests(oauth) if r["endpoint"] == "access_token"] == []


def test_callback_with_parameters_reordered_is_accepted(
    shop_app: Flask, browser: FlaskClient
) -> None:
    approval = approve(start_install(browser, MERCHANT_SHOP))
    reordered = urlencode(dict(reversed(list(approval.callback_params.items()))))

    answer = browser.get(f"/auth/callback?{reordered}")

    assert answer.status_code == 302
    assert stored(shop_app).installed


def test_callback_with_an_expired_timestamp_is_refused(
    shop_app: Flask, browser: FlaskClient
) -> None:
    approval = approve(start_install(browser, MERCHANT_SHOP))
    params = {k: v for k, v in approval.callback_params.items() if k != "hmac"}
    old = signed({**params, "timestamp": now_stamp(-3600)})

    answer = browser.get(f"/auth/callback?{urlencode(old)}")

    assert answer.status_code == 400
    assert "oauth.stale_timestamp" in answer.get_data(as_text=True)
    assert stored(shop_app) is None


def test_callback_in_a_browser_that_did_not_start_the_install_is_refused(
    shop_app: Flask, browser: FlaskClient
) -> None:
    approval = approve(start_install(browser, MERCHANT_SHOP))
    other_browser = shop_app.test_client()

    answer = other_browser.get(approval.callback)

    assert answer.status_code == 400
    assert "oauth.state_missing" in answer.get_data(as_text=True)
    assert stored(shop_app) is None


def test_callback_replayed_is_refused_even_with_the_state_cookie(
    shop_app: Flask, browser: FlaskClient
) -> None:
    started = start_install(browser, MERCHANT_SHOP)
    cookie = browser.get_cookie("printbridge_oauth_state", path="/auth/callback")
    assert cookie is not None
    approval = approve(started)
    assert browser.get(approval.callback).status_code == 302

    attacker = shop_app.test_client()
    attacker.set_cookie("printbridge_oauth_state", cookie.value, path="/auth/callback")
    answer = attacker.get(approval.callback)

    assert answer.status_code == 400
    assert "oauth.state_replayed" in answer.get_data(as_text=True)


def test_callback_with_another_state_than_the_cookie_is_refused(
    shop_app: Flask, browser: FlaskClient
) -> None:
    approval = approve(start_install(browser, MERCHANT_SHOP))
    params = {k: v for k, v in approval.callback_params.items() if k != "hmac"}
    other_state = signed({**params, "state": "0" * 64})

    answer = browser.get(f"/auth/callback?{urlencode(other_state)}")

    assert answer.status_code == 400
    assert "oauth.state_mismatch" in answer.get_data(as_text=True)


def test_failed_code_exchange_stores_nothing_and_says_so(
    shop_app: Flask, browser: FlaskClient, oauth: Sandbox
) -> None:
    oauth.post("/_sandbox/faults", {"status": 400, "error": "invalid_request"})

    answer = install(browser)

    assert answer.status_code == 502
    assert "oauth.refused" in answer.get_data(as_text=True)
    assert stored(shop_app) is None


def test_installing_without_its_settings_answers_a_page_naming_them(make_app: Any) -> None:
    app = make_app()  # single-store settings only
    answer = app.test_client().get(f"/auth/install?shop={MERCHANT_SHOP}")

    assert answer.status_code == 503
    text = answer.get_data(as_text=True)
    for name in ("SHOPIFY_API_KEY", "BRIDGE_PUBLIC_URL", "BRIDGE_ENCRYPTION_KEY"):
        assert name in text
