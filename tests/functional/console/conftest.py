"""Console fixtures: a support user made with the CLI, signed-in clients, orders with stories."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge.web_security import CSRF_KEY, MERCHANT_SHOP_KEY
from tests.functional.conftest import Sandbox
from tests.support.webhooks import delivery_headers, encode, order_payload

EMAIL = "ann@support.example"
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def create_user(app: Flask, email: str = EMAIL, password: str = PASSWORD) -> Any:
    """Create a support user as an operator does: `flask support-user create --password-stdin`."""
    return app.test_cli_runner().invoke(
        args=["support-user", "create", email, "--password-stdin"], input=password + "\n"
    )


def csrf_of(page: TestResponse) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(page.get_data(as_text=True))
    assert found, "no form with a CSRF token on the page"
    return found.group(1)


def sign_in(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD) -> TestResponse:
    """Fill in and send the sign-in form."""
    token = csrf_of(client.get("/support/sign-in"))
    return client.post(
        "/support/sign-in", data={"email": email, "password": password, "csrf_token": token}
    )


def sign_in_merchant(client: FlaskClient, shop: str) -> None:
    """What the store app's OAuth callback leaves in the session (bridge.install)."""
    with client.session_transaction() as session:
        session.clear()
        session[MERCHANT_SHOP_KEY] = shop
        session[CSRF_KEY] = "merchant-test-csrf"


def post_form(client: FlaskClient, path: str, page: str, **fields: str) -> TestResponse:
    """Post a console form with the CSRF token read from `page`."""
    return client.post(path, data={"csrf_token": csrf_of(client.get(page)), **fields})


def seed(gelato: Sandbox, reference: int | str, *statuses: str) -> list[str]:
    """Gelato orders (parts of one split order) carrying the reference, in these statuses."""
    answer = gelato.post(
        "/_sandbox/orders",
        {"orderReferenceId": str(reference), "parts": len(statuses), "statuses": list(statuses)},
    )
    return [order["id"] for order in answer["orders"]]


def cancel(
    client: FlaskClient, order_id: int, webhook_id: str | None = None, **headers: Any
) -> None:
    """Send the store's signed `orders/cancelled` for the order."""
    body = encode(order_payload(order_id))
    response = client.post(
        "/webhooks/shopify",
        data=body,
        headers=delivery_headers(body, webhook_id=webhook_id, **headers),
    )
    assert response.status_code == 200, response.data


@pytest.fixture
def support(app: Flask, client: FlaskClient) -> FlaskClient:
    """The test client, signed in as a support user created with the CLI."""
    assert create_user(app).exit_code == 0
    assert sign_in(client).status_code == 302
    return client
