"""Who sees what: support users every shop; a merchant only theirs, other shops answer 404."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SHOP
from tests.functional.conftest import Sandbox
from tests.functional.console.conftest import cancel, create_user, seed, sign_in, sign_in_merchant
from tests.support.worker import drain

OTHER = "other-shop.myshopify.com"
OURS, THEIRS = 9001, 9002


@pytest.fixture
def two_shops(make_app: Any, app: Flask, gelato: Sandbox) -> dict[str, str]:
    """One action in our shop (#9001) and one in another shop served by the same database."""
    other_app: Flask = make_app(shopify_shop=OTHER)
    seed(gelato, OURS, "printed")
    seed(gelato, THEIRS, "printed")
    cancel(app.test_client(), OURS)
    cancel(other_app.test_client(), THEIRS, shop=OTHER)
    drain(app)

    def action_of(shop: str, order: int) -> str:
        runner = app.test_cli_runner()
        output = runner.invoke(args=["order", shop, str(order), "--json"]).output
        found: str = json.loads(output)["actions"][0]["id"]
        return found

    return {"ours": action_of(SHOP, OURS), "theirs": action_of(OTHER, THEIRS)}


@pytest.fixture
def merchant(client: FlaskClient) -> FlaskClient:
    sign_in_merchant(client, SHOP)
    return client


def test_support_user_sees_every_shop(
    app: Flask, client: FlaskClient, two_shops: dict[str, str]
) -> None:
    create_user(app)
    sign_in(client)

    page = client.get("/support/actions").get_data(as_text=True)

    assert "2 actions," in page
    assert client.get(f"/support/orders/{OTHER}/{THEIRS}").status_code == 200


def test_merchant_lists_searches_and_counts_only_their_own_shop(
    merchant: FlaskClient, two_shops: dict[str, str]
) -> None:
    listed = merchant.get("/support/actions").get_data(as_text=True)
    searched = merchant.get(f"/support/actions?q={THEIRS}").get_data(as_text=True)
    by_shop = merchant.get(f"/support/actions?shop={OTHER}").get_data(as_text=True)
    by_id = merchant.get(f"/support/actions?q={two_shops['theirs']}").get_data(as_text=True)
    overview = merchant.get("/support/").get_data(as_text=True)

    assert "1 action," in listed
    assert f"/{OURS}#" in listed
    assert OTHER not in listed
    assert "No action matches." in searched
    assert "1 action," in by_shop
    assert OTHER not in by_shop
    assert "No action matches." in by_id
    assert "(0 of 1; 0 partly)" not in overview
    assert "(1 of 1; 0 partly)" in overview
    assert f"Shop {SHOP}" in overview


@pytest.mark.parametrize(
    "path",
    [
        f"/support/orders/{OTHER}/{THEIRS}",
        f"/support/orders/{OTHER}/{THEIRS}/ticket.txt",
        f"/support/orders/{OTHER}/{THEIRS}/ticket.json",
        "/support/actions/{theirs}",
        "/support/actions/{theirs}/reevaluate",
    ],
)
def test_merchant_guessing_another_shops_url_gets_404(
    merchant: FlaskClient, two_shops: dict[str, str], path: str
) -> None:
    response = merchant.get(path.format(**two_shops))

    assert response.status_code == 404
    assert str(THEIRS) not in response.get_data(as_text=True)


@pytest.mark.parametrize("form", ["handled", "reevaluate"])
def test_merchant_posting_to_another_shops_action_gets_404_and_changes_nothing(
    app: Flask, merchant: FlaskClient, two_shops: dict[str, str], form: str
) -> None:
    response = merchant.post(
        f"/support/actions/{two_shops['theirs']}/{form}",
        data={"csrf_token": "merchant-test-csrf", "note": "mine now", "fingerprint": "x"},
    )

    assert response.status_code == 404
    runner = app.test_cli_runner()
    document = json.loads(runner.invoke(args=["order", OTHER, str(THEIRS), "--json"]).output)
    assert len(document["actions"]) == 1


def test_merchant_sees_their_own_order_and_its_ticket(
    merchant: FlaskClient, two_shops: dict[str, str]
) -> None:
    assert merchant.get(f"/support/orders/{SHOP}/{OURS}").status_code == 200
    assert merchant.get(f"/support/orders/{SHOP}/{OURS}/ticket.json").status_code == 200
    assert merchant.get(f"/support/actions/{two_shops['ours']}/reevaluate").status_code == 200


def test_merchant_of_a_shop_no_longer_served_is_signed_out(client: FlaskClient) -> None:
    sign_in_merchant(client, "gone-away.myshopify.com")

    response = client.get("/support/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/support/sign-in")
