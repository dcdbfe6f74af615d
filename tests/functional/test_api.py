"""The sync-log JSON API and the health routes, through the test client."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SHOP, SUPPORT_TOKEN
from tests.functional.conftest import Sandbox
from tests.support.webhooks import delivery_headers, encode, order_payload
from tests.support.worker import drain

AUTH = {"Authorization": f"Bearer {SUPPORT_TOKEN}"}


def cancel(client: FlaskClient, order_id: int) -> None:
    body = encode(order_payload(order_id))
    assert (
        client.post("/webhooks/shopify", data=body, headers=delivery_headers(body)).status_code
        == 200
    )


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {SUPPORT_TOKEN}", SUPPORT_TOKEN]
)
def test_api_without_the_support_token_is_401(
    client: FlaskClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/api/actions", headers=headers)

    assert response.status_code == 401
    assert response.get_json()["reason"] == "api.unauthorized"


def test_api_is_closed_when_no_support_token_is_configured(make_app: object) -> None:
    app = make_app(support_token=None)  # type: ignore[operator]

    assert app.test_client().get("/api/actions", headers=AUTH).status_code == 401


def test_order_document_lists_deliveries_and_actions_with_calls(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    gelato.post("/_sandbox/orders", {"orderReferenceId": "1001", "status": "passed"})
    cancel(client, 1001)
    drain(app)

    document = client.get(f"/api/orders/{SHOP}/1001", headers=AUTH).get_json()

    assert set(document) == {"shop", "order_id", "deliveries", "actions"}
    assert document["shop"] == SHOP
    assert document["order_id"] == "1001"
    (action,) = document["actions"]
    assert action["kind"] == "cancel"
    assert action["outcome"] == "cancelled"
    assert action["state"] == "done"
    assert action["attempt_count"] == 1
    assert action["gelato_orders"][0]["status_found"] == "passed"
    assert {call["method"] for call in action["api_calls"]} == {"POST"}
    assert all(call["duration_ms"] >= 0 for call in action["api_calls"])


def test_unknown_order_is_404(client: FlaskClient) -> None:
    response = client.get(f"/api/orders/{SHOP}/999", headers=AUTH)

    assert response.status_code == 404
    assert response.get_json()["reason"] == "api.not_found"


def test_outcome_of_an_action_is_null_until_final(app: Flask, client: FlaskClient) -> None:
    cancel(client, 1002)

    (action,) = client.get("/api/actions", headers=AUTH).get_json()["actions"]

    assert action["outcome"] is None
    assert action["state"] == "pending"


def test_actions_are_listed_newest_first_and_filtered(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    gelato.post("/_sandbox/orders", {"orderReferenceId": "2001", "status": "passed"})
    gelato.post("/_sandbox/orders", {"orderReferenceId": "2002", "status": "printed"})
    cancel(client, 2001)
    cancel(client, 2002)
    drain(app)

    listed = client.get("/api/actions", headers=AUTH).get_json()["actions"]
    too_late = client.get("/api/actions?outcome=too_late", headers=AUTH).get_json()["actions"]
    limited = client.get("/api/actions?limit=1", headers=AUTH).get_json()["actions"]
    other_shop = client.get("/api/actions?shop=other.myshopify.com", headers=AUTH).get_json()
    future = client.get("/api/actions?since=2999-01-01T00:00:00%2B00:00", headers=AUTH).get_json()

    assert [action["order_id"] for action in listed] == ["2002", "2001"]
    assert [action["order_id"] for action in too_late] == ["2002"]
    assert [action["order_id"] for action in limited] == ["2002"]
    assert other_shop["actions"] == []
    assert future["actions"] == []


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("outcome=done", "api.bad_outcome"),
        ("since=yesterday", "api.bad_since"),
        ("limit=x", "api.bad_limit"),
    ],
)
def test_bad_filters_are_400_with_a_reason(client: FlaskClient, query: str, reason: str) -> None:
    response = client.get(f"/api/actions?{query}", headers=AUTH)

    assert response.status_code == 400
    assert response.get_json()["reason"] == reason


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readiness_is_503_when_redis_is_unreachable(make_app: object) -> None:
    app = make_app(redis_url="redis://127.0.0.1:1/0")  # type: ignore[operator]

    ready = app.test_client().get("/readyz")

    assert ready.status_code == 503
    assert ready.get_json()["checks"] == {"database": "ok", "redis": "unreachable"}


def test_cli_prints_the_sync_log_of_an_order(
    app: Flask, client: FlaskClient, gelato: Sandbox
) -> None:
    gelato.post("/_sandbox/orders", {"orderReferenceId": "3001", "status": "printed"})
    cancel(client, 3001)
    drain(app)

    result = app.test_cli_runner().invoke(args=["order", SHOP, "3001"])

    assert result.exit_code == 0, result.output
    assert "orders/cancelled -> accepted" in result.output
    assert "cancel: too_late" in result.output
    assert "gelato POST" in result.output


def test_cli_for_an_unknown_order_fails_clearly(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["order", SHOP, "404"])

    assert result.exit_code == 1
    assert "nothing recorded for order 404" in result.output
