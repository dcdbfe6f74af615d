"""Bad and unusual webhook input: the exact status, nothing enqueued, nothing lost."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.app import services_of
from tests.conftest import PREVIOUS_SECRET, SUPPORT_TOKEN
from tests.support.metrics import scrape, value
from tests.support.synclog import order_deliveries, queued
from tests.support.webhooks import delivery_headers, encode, order_payload

DELIVERED = "printbridge_webhook_deliveries_total"

ORDER_ID = 450789469


def deliveries(client: FlaskClient, order_id: int = ORDER_ID) -> list[dict[str, Any]]:
    return order_deliveries(client, order_id)


def post(client: FlaskClient, body: bytes, headers: dict[str, str]) -> int:
    return client.post("/webhooks/shopify", data=body, headers=headers).status_code


def test_valid_cancellation_is_accepted_and_queued(app: Flask, client: FlaskClient) -> None:
    body = encode(order_payload(ORDER_ID))

    assert post(client, body, delivery_headers(body)) == 200

    assert queued(app) == 1
    assert [d["result"] for d in deliveries(client)] == ["accepted"]


def test_unprefixed_header_names_are_accepted(app: Flask, client: FlaskClient) -> None:
    body = encode(order_payload(ORDER_ID))

    assert post(client, body, delivery_headers(body, prefix="Shopify-")) == 200
    assert queued(app) == 1


def test_signature_made_with_the_previous_secret_is_accepted(
    app: Flask, client: FlaskClient
) -> None:
    body = encode(order_payload(ORDER_ID))

    assert post(client, body, delivery_headers(body, secret=PREVIOUS_SECRET)) == 200
    assert queued(app) == 1


@pytest.mark.parametrize("signature", ["wrong", None, "", "bm90IGEgc2lnbmF0dXJl"])
def test_wrong_or_missing_signature_is_401_and_records_nothing(
    app: Flask, client: FlaskClient, signature: str | None
) -> None:
    body = encode(order_payload(ORDER_ID))
    headers = delivery_headers(body)
    if signature is None:
        del headers["X-Shopify-Hmac-Sha256"]
    else:
        headers["X-Shopify-Hmac-Sha256"] = signature

    assert post(client, body, headers) == 401

    assert queued(app) == 0
    assert deliveries(client) == []
    counted = value(scrape(client), DELIVERED, topic="orders/cancelled", result="unauthorized")
    assert counted == 1


def test_signature_over_another_body_is_401(app: Flask, client: FlaskClient) -> None:
    body = encode(order_payload(ORDER_ID))
    headers = delivery_headers(body)
    tampered = encode(order_payload(ORDER_ID + 1))

    assert post(client, tampered, headers) == 401
    assert queued(app) == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"this is not json", "payload.not_json"),
        (b"[1, 2, 3]", "payload.not_object"),
        (b'{"name": "#1001"}', "payload.missing_id"),
        (b'{"id": null}', "payload.missing_id"),
        (b'{"id": "12ab"}', "payload.bad_id"),
        (b"\xff\xfe\x00garbage", "payload.not_json"),
        (b"[" * 100_000, "payload.not_json"),
    ],
)
def test_signed_but_unusable_body_is_400_recorded_as_rejected_and_not_queued(
    app: Flask, client: FlaskClient, body: bytes, reason: str
) -> None:
    response = client.post("/webhooks/shopify", data=body, headers=delivery_headers(body))

    assert response.status_code == 400
    assert response.get_data(as_text=True) == reason
    assert queued(app) == 0
    engine = services_of(app).storage.engine
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT result, reason FROM deliveries").all()
    assert [tuple(row) for row in rows] == [("rejected", reason)]


def test_body_over_the_limit_is_413_and_not_recorded(app: Flask, client: FlaskClient) -> None:
    body = encode(order_payload(ORDER_ID, note="x" * 10_000_000))

    assert post(client, body, delivery_headers(body)) == 413
    assert queued(app) == 0
    assert deliveries(client) == []


def test_empty_body_signed_correctly_is_400(app: Flask, client: FlaskClient) -> None:
    assert post(client, b"", delivery_headers(b"")) == 400
    assert queued(app) == 0


def test_unknown_topic_is_acknowledged_counted_and_not_queued(
    app: Flask, client: FlaskClient
) -> None:
    body = encode({"id": 1})

    assert post(client, body, delivery_headers(body, topic="products/update")) == 200

    assert queued(app) == 0
    assert value(scrape(client), DELIVERED, topic="other", result="ignored_topic") == 1


def test_delivery_from_an_unknown_shop_is_recorded_and_not_acted_on(
    app: Flask, client: FlaskClient
) -> None:
    body = encode(order_payload(ORDER_ID))
    other = "someone-else.myshopify.com"

    assert post(client, body, delivery_headers(body, shop=other)) == 200

    assert queued(app) == 0
    response = client.get(
        f"/api/orders/{other}/{ORDER_ID}", headers={"Authorization": f"Bearer {SUPPORT_TOKEN}"}
    )
    assert [d["result"] for d in response.get_json()["deliveries"]] == ["unknown_shop"]


@pytest.mark.parametrize("shop", ["evil.com", "shop.myshopify.com.evil.com", "UPPER_CASE"])
def test_malformed_shop_domain_is_400(app: Flask, client: FlaskClient, shop: str) -> None:
    body = encode(order_payload(ORDER_ID))

    assert post(client, body, delivery_headers(body, shop=shop)) == 400
    assert queued(app) == 0


def test_missing_webhook_id_is_400(app: Flask, client: FlaskClient) -> None:
    body = encode(order_payload(ORDER_ID))
    headers = delivery_headers(body)
    del headers["X-Shopify-Webhook-Id"]

    assert post(client, body, headers) == 400
    assert queued(app) == 0


def test_cancellation_without_cancelled_at_is_recorded_and_ignored(
    app: Flask, client: FlaskClient
) -> None:
    body = encode(order_payload(ORDER_ID, cancelled_at=None))

    assert post(client, body, delivery_headers(body)) == 200

    assert queued(app) == 0
    assert [d["result"] for d in deliveries(client)] == ["ignored"]


def test_older_event_than_the_one_applied_is_recorded_as_stale(
    app: Flask, client: FlaskClient
) -> None:
    newer = encode(order_payload(ORDER_ID, updated_at="2026-11-20T12:00:00-05:00"))
    older = encode(
        order_payload(
            ORDER_ID,
            updated_at="2026-11-20T11:00:00-05:00",
            cancelled_at="2026-11-20T11:00:00-05:00",
        )
    )

    post(client, newer, delivery_headers(newer))
    assert post(client, older, delivery_headers(older)) == 200

    assert queued(app) == 1
    assert [d["result"] for d in deliveries(client)] == ["accepted", "stale"]


def test_database_unavailable_answers_503_and_queues_nothing(
    app: Flask, client: FlaskClient
) -> None:
    # The database file is replaced by a directory: every connection fails, as on a lost disk.
    engine = services_of(app).storage.engine
    engine.dispose()
    path = Path(str(engine.url.database))
    path.unlink()
    path.mkdir()
    body = encode(order_payload(ORDER_ID))

    assert post(client, body, delivery_headers(body)) == 503
    assert queued(app) == 0


def test_redis_unavailable_answers_503_and_the_retry_queues_the_action(
    app: Flask, client: FlaskClient
) -> None:
    services = services_of(app)
    body = encode(order_payload(ORDER_ID))
    headers = delivery_headers(body)
    working = services.queue.queue.connection.connection_pool
    services.queue.queue.connection.connection_pool = type(working)(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2
    )
    try:
        assert post(client, body, headers) == 503
    finally:
        services.queue.queue.connection.connection_pool = working

    assert post(client, body, headers) == 200

    assert queued(app) == 1
    assert deliveries(client)[0]["duplicates"] == 1


def test_a_redis_that_never_answers_costs_a_webhook_seconds_not_the_deadline(
    make_app: Any,
) -> None:
    # A listening socket that never accepts: the kernel completes the connection, and every
    # command then waits for an answer that never comes, as with a hung Redis.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        port = hung.getsockname()[1]
        app = make_app(redis_url=f"redis://127.0.0.1:{port}/0")
        body = encode(order_payload(ORDER_ID))

        started = time.monotonic()
        status = post(app.test_client(), body, delivery_headers(body))
        elapsed = time.monotonic() - started

    assert status == 503
    assert elapsed < 4.0
