"""The merchant's settings pages: their shop only, every form CSRF-checked, the key never shown."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.app import services_of
from tests.functional.conftest import Sandbox
from tests.functional.shops.conftest import sandbox_requests, traces_of
from tests.functional.shops.test_installed_shop import ORDER, cancel, installed_with_key, seed
from tests.functional.shops.test_uninstall import uninstalled
from tests.support.install import (
    MERCHANT_GELATO_KEY,
    MERCHANT_SHOP,
    OTHER_SHOP,
    csrf_of,
    form,
    install,
)
from tests.support.webhooks import delivery_headers
from tests.support.worker import drain

SETTINGS = f"/shops/{MERCHANT_SHOP}/settings"


def page(browser: FlaskClient, shop: str = MERCHANT_SHOP) -> Any:
    return browser.get(f"/shops/{shop}/settings")


def test_settings_page_shows_the_shop_its_state_key_ending_and_settings(
    shop_app: Flask, browser: FlaskClient
) -> None:
    installed_with_key(shop_app, browser)

    text = page(browser).get_data(as_text=True)

    assert f"printbridge for {MERCHANT_SHOP}" in text
    assert "Installed on" in text
    assert f"…{MERCHANT_GELATO_KEY[-4:]}" in text
    assert MERCHANT_GELATO_KEY not in text
    for field in ("dry_run", "order_reference", "allow_country_change", "gelato_api_key"):
        assert f'<label for="{field}"' in text
        assert f'id="{field}"' in text
    assert "<script" not in text


def test_gelato_key_is_checked_with_a_harmless_call_and_saved_encrypted(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox
) -> None:
    landed = browser.get(install(browser).headers["Location"])

    answer = browser.post(
        f"/shops/{MERCHANT_SHOP}/gelato-key",
        data=form(landed, gelato_api_key=MERCHANT_GELATO_KEY),
        follow_redirects=True,
    )

    assert "Gelato: key accepted" in answer.get_data(as_text=True)
    (check,) = [r for r in sandbox_requests(gelato) if r["api_key"] == MERCHANT_GELATO_KEY]
    assert (check["method"], check["path"], check["body"]) == (
        "POST",
        "/v4/orders:search",
        {"limit": 1},
    )
    assert traces_of(shop_app, MERCHANT_GELATO_KEY) == []
    loaded = services_of(shop_app).shops.load(MERCHANT_SHOP)
    assert loaded is not None
    assert loaded.gelato_api_key == MERCHANT_GELATO_KEY


def test_a_key_gelato_refuses_is_not_saved_and_gelatos_answer_is_shown(
    shop_app: Flask, browser: FlaskClient
) -> None:
    landed = browser.get(install(browser).headers["Location"])

    answer = browser.post(
        f"/shops/{MERCHANT_SHOP}/gelato-key",
        data=form(landed, gelato_api_key="wrong-key-1234"),
        follow_redirects=True,
    )

    text = answer.get_data(as_text=True)
    assert "Gelato answered 401: No valid API key provided. The key was not saved." in text
    assert "wrong-key-1234" not in text
    assert not services_of(shop_app).shop_records.find(MERCHANT_SHOP).has_gelato_key


def test_saved_settings_apply_to_the_next_webhook(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    fields = {"dry_run": "on", "order_reference": "name"}

    saved = browser.post(SETTINGS, data=form(page(browser), **fields), follow_redirects=True)
    gelato.post("/_sandbox/orders", {"orderReferenceId": f"#{ORDER % 10000}"})
    cancel(shop_app.test_client())
    drain(shop_app)

    assert "Settings saved." in saved.get_data(as_text=True)
    record = services_of(shop_app).shop_records.find(MERCHANT_SHOP)
    assert (record.dry_run, record.order_reference, record.allow_country_change) == (
        True,
        "name",
        False,
    )
    document = services_of(shop_app).synclog.order(MERCHANT_SHOP, str(ORDER))
    (action,) = document["actions"]
    assert (action["outcome"], action["reference"], action["would_be"]) == (
        "dry_run",
        f"#{ORDER % 10000}",
        "cancelled",
    )
    assert [r for r in sandbox_requests(gelato) if r["endpoint"] == "cancel"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/shops/{OTHER_SHOP}/settings"),
        ("POST", f"/shops/{OTHER_SHOP}/settings"),
        ("POST", f"/shops/{OTHER_SHOP}/gelato-key"),
        ("GET", f"/shops/{OTHER_SHOP}/data-requests/1.json"),
    ],
)
def test_a_shops_session_cannot_read_or_change_another_shop(
    shop_app: Flask, browser: FlaskClient, method: str, path: str
) -> None:
    other = shop_app.test_client()
    install(other, OTHER_SHOP)
    install(browser, MERCHANT_SHOP)
    token = csrf_of(page(browser))

    answer = browser.open(
        path,
        method=method,
        data={"csrf_token": token, "dry_run": "on", "order_reference": "name",
              "gelato_api_key": MERCHANT_GELATO_KEY},
    )  # fmt: skip

    assert answer.status_code == 404
    record = services_of(shop_app).shop_records.find(OTHER_SHOP)
    assert (record.dry_run, record.order_reference, record.has_gelato_key) == (False, "id", False)


def test_another_shops_data_request_export_is_404_even_by_its_number(
    shop_app: Flask, browser: FlaskClient
) -> None:
    other = shop_app.test_client()
    install(other, OTHER_SHOP)
    install(browser, MERCHANT_SHOP)
    body = {"shop_domain": OTHER_SHOP, "orders_requested": [1], "data_request": {"id": 5}}
    raw = json.dumps(body).encode()
    headers = delivery_headers(raw, topic="customers/data_request", shop=OTHER_SHOP)
    assert shop_app.test_client().post("/webhooks/shopify", data=raw, headers=headers).status_code
    with services_of(shop_app).storage.engine.connect() as connection:
        delivery_id = connection.exec_driver_sql("SELECT max(id) FROM deliveries").scalar()

    mine = browser.get(f"/shops/{MERCHANT_SHOP}/data-requests/{delivery_id}.json")
    theirs = browser.get(f"/shops/{OTHER_SHOP}/data-requests/{delivery_id}.json")
    owner = other.get(f"/shops/{OTHER_SHOP}/data-requests/{delivery_id}.json")

    assert (mine.status_code, theirs.status_code, owner.status_code) == (404, 404, 200)


@pytest.mark.parametrize("token", [None, "", "not-the-session-token"])
def test_a_form_without_the_sessions_csrf_token_is_refused(
    shop_app: Flask, browser: FlaskClient, token: str | None
) -> None:
    install(browser)
    fields: dict[str, str] = {"dry_run": "on", "order_reference": "name"}
    if token is not None:
        fields["csrf_token"] = token

    answer = browser.post(SETTINGS, data=fields)

    assert answer.status_code == 400
    assert not services_of(shop_app).shop_records.find(MERCHANT_SHOP).dry_run


def test_without_a_session_the_merchant_is_sent_through_the_stores_approval(
    shop_app: Flask,
) -> None:
    answer = shop_app.test_client().get(SETTINGS)

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/auth/install?shop={MERCHANT_SHOP}"


def test_signing_out_ends_the_session(shop_app: Flask, browser: FlaskClient) -> None:
    install(browser)

    out = browser.post(f"/shops/{MERCHANT_SHOP}/sign-out", data=form(page(browser)))

    assert out.status_code == 200
    assert page(browser).status_code == 302


def test_a_session_from_before_a_reinstall_is_worth_nothing(
    shop_app: Flask, browser: FlaskClient
) -> None:
    install(browser)
    install(shop_app.test_client())  # someone installs again, in another browser

    assert page(browser).status_code == 404


def test_after_uninstall_the_page_says_so_and_takes_no_key(
    shop_app: Flask, browser: FlaskClient, gelato: Sandbox
) -> None:
    installed_with_key(shop_app, browser)
    seed(gelato)
    uninstalled(shop_app.test_client())
    text = page(browser).get_data(as_text=True)
    attempt = browser.post(
        f"/shops/{MERCHANT_SHOP}/gelato-key",
        data=form(page(browser), gelato_api_key=MERCHANT_GELATO_KEY),
        follow_redirects=True,
    )

    assert "Uninstalled" in text
    assert "A key ending in" not in text
    assert "not installed" in attempt.get_data(as_text=True)
    assert not services_of(shop_app).shop_records.find(MERCHANT_SHOP).has_gelato_key
